"""The claim status machine, as data.

Every allowed move is a row of ``TRANSITIONS``; a refused move says why
through ``REFUSALS`` where there is more to say than "not allowed". The
supplier may decide several steps at once (approve and settle a claim
between two polls), so decisions may skip review, never go back past a
final answer except to reopen a rejected claim.
"""

from __future__ import annotations

import enum
from typing import Final

from domain.errors import ConflictError


class ClaimStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    AWAITING_CUSTOMER = "awaiting_customer"
    APPROVED = "approved"
    REJECTED = "rejected"
    RESOLVED = "resolved"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


S = ClaimStatus

#: The supplier's answers; reaching one of them is a first answer.
DECISIONS: Final = frozenset({S.APPROVED, S.REJECTED, S.RESOLVED})

TRANSITIONS: Final[dict[ClaimStatus, frozenset[ClaimStatus]]] = {
    S.SUBMITTED: frozenset(
        {S.IN_REVIEW, S.AWAITING_CUSTOMER, *DECISIONS, S.CLOSED, S.WITHDRAWN}
    ),
    S.IN_REVIEW: frozenset({S.AWAITING_CUSTOMER, *DECISIONS, S.CLOSED, S.WITHDRAWN}),
    S.AWAITING_CUSTOMER: frozenset({S.IN_REVIEW, *DECISIONS, S.CLOSED, S.WITHDRAWN}),
    S.APPROVED: frozenset({S.RESOLVED, S.CLOSED}),
    # A rejected claim can be reopened by the supplier.
    S.REJECTED: frozenset({S.IN_REVIEW, S.CLOSED}),
    S.RESOLVED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
    S.WITHDRAWN: frozenset(),
}

REFUSALS: Final[dict[tuple[ClaimStatus, ClaimStatus], str]] = {
    (S.APPROVED, S.WITHDRAWN): "the supplier has already approved it",
    (S.REJECTED, S.WITHDRAWN): "the supplier has already rejected it",
    (S.RESOLVED, S.WITHDRAWN): "it is already resolved",
    (S.CLOSED, S.WITHDRAWN): "it is closed",
}

TERMINAL: Final = frozenset(
    status for status, targets in TRANSITIONS.items() if not targets
)
#: Statuses in which the claim's thread is closed to new comments and files.
THREAD_CLOSED: Final = TERMINAL
#: Statuses that end the resolution clock.
SETTLED: Final = frozenset({S.REJECTED, S.RESOLVED, S.CLOSED, S.WITHDRAWN})


class ClaimStateError(ConflictError):
    """The claim's current status does not allow the move."""

    def __init__(self, current: ClaimStatus, target: ClaimStatus, action: str) -> None:
        detail = f"the claim is {current.value}, so it cannot be {action}"
        reason = REFUSALS.get((current, target))
        super().__init__(f"{detail}: {reason}" if reason else detail)
        self.current = current
        self.target = target


def can_move(current: ClaimStatus, target: ClaimStatus) -> bool:
    return target in TRANSITIONS[current]


def require_move(current: ClaimStatus, target: ClaimStatus, action: str) -> None:
    """Raise ClaimStateError unless ``current`` may become ``target``."""
    if not can_move(current, target):
        raise ClaimStateError(current, target, action)


def require_open_thread(current: ClaimStatus, action: str) -> None:
    """Refuse comments and attachments once the claim is closed or withdrawn."""
    if current in THREAD_CLOSED:
        raise ConflictError(
            f"the claim is {current.value}, so it cannot be {action}; "
            "file a new claim instead"
        )
