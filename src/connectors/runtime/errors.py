"""Turning transport failures into the domain's backend error tree."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from domain.backends import (
    BackendNotFoundError,
    BackendProtocolError,
    BackendRejectedError,
    BackendUnavailableError,
)


@contextmanager
def translate_http_errors(system: str, operation: str) -> Iterator[None]:
    """Raise httpx's failures as BackendError subclasses.

    Only the exception class reaches the message: httpx errors can quote URLs,
    and a URL can carry a credential.
    """
    try:
        yield
    except httpx.HTTPStatusError as error:
        status = error.response.status_code
        detail = f"HTTP {status}"
        if status == 404:
            raise BackendNotFoundError(system, operation, detail) from None
        if status in {408, 425, 429} or status >= 500:
            raise BackendUnavailableError(system, operation, detail) from None
        raise BackendRejectedError(system, operation, detail) from None
    except (
        httpx.TimeoutException,
        httpx.NetworkError,
        httpx.RemoteProtocolError,
    ) as error:
        raise BackendUnavailableError(system, operation, type(error).__name__) from None
    except (httpx.DecodingError, ValueError) as error:
        raise BackendProtocolError(system, operation, type(error).__name__) from None
