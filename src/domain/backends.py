"""What can go wrong when Portico asks a back-office system, as one tree.

Every connector raises only these, whatever its transport, so that the
domain decides what to do (retry, show a partial answer, reject an order)
without knowing which system it talked to::

    BackendError
    ├── BackendUnavailableError   transient: may work if tried again later
    │   ├── BackendTimeoutError   the call ran past its total deadline
    │   └── CircuitOpenError      recent failures; not even tried
    ├── BackendRejectedError      permanent: the system refused this request
    │   └── BackendNotFoundError  the system has no such record
    └── BackendProtocolError      the answer made no sense (a bug to report)
"""

from __future__ import annotations


class BackendError(Exception):
    """A call to a back-office system failed.

    ``system`` names the connector instance, ``operation`` what was asked.
    Messages never hold credentials or whole payloads.
    """

    #: A short, stable reason for partial answers and problem details.
    reason = "error"
    retryable = False

    def __init__(self, system: str, operation: str, detail: str) -> None:
        super().__init__(f"{system}.{operation}: {detail}")
        self.system = system
        self.operation = operation
        self.detail = detail


class BackendUnavailableError(BackendError):
    reason = "unavailable"
    retryable = True


class BackendTimeoutError(BackendUnavailableError):
    reason = "timeout"


class CircuitOpenError(BackendUnavailableError):
    reason = "circuit_open"


class BackendRejectedError(BackendError):
    reason = "rejected"


class BackendNotFoundError(BackendRejectedError):
    reason = "not_found"


class BackendProtocolError(BackendError):
    reason = "protocol_error"
