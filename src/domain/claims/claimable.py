"""How much of an order line can still be claimed.

What the customer received can be claimed: the delivered quantity, or the
ordered quantity where nothing was delivered (a claim for goods that never
arrived), less what earlier claims on the line already took. Claims that
were withdrawn or rejected give their quantity back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from domain.claims.model import ClaimLine, RequestedClaimLine
from domain.errors import InvalidInputError


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
