"""The order status machine, as data.

Every allowed move is a row of ``TRANSITIONS``; a move that is not there is
refused with the reason ``REFUSALS`` gives for it (or a general one), so a
partner's developer reads why, not just that. The ERP may report several steps
at once (an order confirmed, shipped and invoiced between two polls), so the
table allows forward jumps along the fulfilment path, never backward ones.
"""

from __future__ import annotations

import enum
from typing import Final

from domain.errors import ConflictError


class OrderStatus(enum.StrEnum):
    PENDING_APPROVAL = "pending_approval"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    IN_FULFILMENT = "in_fulfilment"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    INVOICED = "invoiced"
    CANCELLED = "cancelled"


S = OrderStatus

#: The fulfilment path; the ERP may move an order any number of steps along it.
FULFILMENT_PATH: Final = (
    S.ACCEPTED,
    S.IN_FULFILMENT,
    S.SHIPPED,
    S.DELIVERED,
    S.INVOICED,
)

TRANSITIONS: Final[dict[OrderStatus, frozenset[OrderStatus]]] = {
    S.PENDING_APPROVAL: frozenset({S.SUBMITTED, S.CANCELLED, S.REJECTED}),
    S.SUBMITTED: frozenset(
        {S.PENDING_APPROVAL, S.REJECTED, S.CANCELLED, *FULFILMENT_PATH}
    ),
    **{
        status: frozenset(FULFILMENT_PATH[index + 1 :])
        | ({S.CANCELLED} if status in {S.ACCEPTED, S.IN_FULFILMENT} else set())
        for index, status in enumerate(FULFILMENT_PATH)
    },
    S.REJECTED: frozenset(),
    S.CANCELLED: frozenset(),
}

#: Why a move is refused, where there is more to say than "not allowed".
REFUSALS: Final[dict[tuple[OrderStatus, OrderStatus], str]] = {
    (S.SHIPPED, S.CANCELLED): "file a return claim instead",
    (S.DELIVERED, S.CANCELLED): "file a return claim instead",
    (S.INVOICED, S.CANCELLED): "file a return claim instead",
    (S.REJECTED, S.CANCELLED): "the ERP never took it, so there is nothing to cancel",
    (S.SUBMITTED, S.SUBMITTED): "it did not need approval",
}

TERMINAL: Final = frozenset(
    status for status, targets in TRANSITIONS.items() if not targets
)


class OrderStateError(ConflictError):
    """The order's current status does not allow the move.

    ``action`` is what the caller tried, as a past participle ("cancelled").
    """

    def __init__(self, current: OrderStatus, target: OrderStatus, action: str) -> None:
        detail = f"the order is {current.value}, so it cannot be {action}"
        reason = REFUSALS.get((current, target))
        super().__init__(f"{detail}: {reason}" if reason else detail)
        self.current = current
        self.target = target


def can_move(current: OrderStatus, target: OrderStatus) -> bool:
    return target in TRANSITIONS[current]


def require_move(current: OrderStatus, target: OrderStatus, action: str) -> None:
    """Raise OrderStateError unless ``current`` may become ``target``."""
    if not can_move(current, target):
        raise OrderStateError(current, target, action)
