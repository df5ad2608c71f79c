"""How much of an order line can still be claimed.

What the customer received can be claimed: the delivered quantity, or the
ordered quantity where nothing was delivered (a claim for goods that never
arrived), less what earlier claims on the line already took. Claims that
were withdrawn or rejected give their quantity back.

Only an order the ERP accepted can be claimed against: one still waiting
for approval or for the ERP, one the ERP rejected and one that was cancelled
never became a sale, so there is nothing to complain about or return.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from domain.claims.model import ClaimLine, RequestedClaimLine
from domain.errors import ConflictError, InvalidInputError
from domain.orders.status import FULFILMENT_PATH, OrderStatus

#: Order statuses a claim may be filed in: the ERP has taken the order.
CLAIMABLE_ORDER_STATUSES: Final = frozenset(FULFILMENT_PATH)

#: Why an order in any other status cannot be claimed against.
NOT_CLAIMABLE_BECAUSE: Final[dict[OrderStatus, str]] = {
    OrderStatus.PENDING_APPROVAL: (
        "it awaits approval and has not gone to the ERP; "
        "file the claim once the ERP has accepted it"
    ),
    OrderStatus.SUBMITTED: (
        "the ERP has not accepted it yet; file the claim once it has"
    ),
    OrderStatus.REJECTED: "the ERP rejected it, so it never became a sale",
    OrderStatus.CANCELLED: "it was cancelled",
}


class OrderNotClaimableError(ConflictError):
    """The order's current status does not allow a claim against it."""

    def __init__(self, order_status: OrderStatus) -> None:
        detail = (
            f"the order is {order_status.value}, so no claim can be filed against it"
        )
        reason = NOT_CLAIMABLE_BECAUSE.get(order_status)
        super().__init__(f"{detail}: {reason}" if reason else detail)
        self.order_status = order_status


def require_claimable_order(order_status: OrderStatus) -> None:
    """Raise OrderNotClaimableError unless the ERP has accepted the order."""
    if order_status not in CLAIMABLE_ORDER_STATUSES:
        raise OrderNotClaimableError(order_status)


@dataclass(frozen=True, slots=True)
class OrderLineBalance:
    """An order line's quantities, as far as claims are concerned."""

    order_line_no: int
    sku: str
    ordered: int
    #: None when the ERP has no record of a delivery for this line.
    delivered: int | None
    already_claimed: int

    @property
    def basis(self) -> int:
        return self.delivered if self.delivered else self.ordered

    @property
    def claimable(self) -> int:
        return max(self.basis - self.already_claimed, 0)


def claim_lines(
    requested: list[RequestedClaimLine], balances: Mapping[int, OrderLineBalance]
) -> list[ClaimLine]:
    """The claim's lines, each checked against what its order line allows.

    Raises InvalidInputError naming the line and the limit.
    """
    lines: list[ClaimLine] = []
    for index, line in enumerate(requested):
        balance = balances.get(line.order_line_no)
        if balance is None:
            raise InvalidInputError(
                f"lines[{index}]: the order has no line {line.order_line_no}",
                field=f"lines[{index}].order_line_no",
            )
        if line.quantity > balance.claimable:
            raise InvalidInputError(
                f"lines[{index}]: at most {balance.claimable} of order line "
                f"{line.order_line_no} ({balance.sku}) can still be claimed "
                f"({_explain(balance)}); {line.quantity} were asked for",
                field=f"lines[{index}].quantity",
            )
        lines.append(
            ClaimLine(
                line_no=index + 1,
                order_line_no=line.order_line_no,
                sku=balance.sku,
                quantity=line.quantity,
                reason=line.reason,
                note=line.note,
            )
        )
    return lines


def _explain(balance: OrderLineBalance) -> str:
    basis = (
        f"{balance.delivered} delivered"
        if balance.delivered
        else f"{balance.ordered} ordered, none delivered"
    )
    return f"{basis}, {balance.already_claimed} already claimed"
