"""The order as the unified model knows it."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from domain.errors import InvalidInputError
from domain.money import Money
from domain.orders.status import OrderStatus

MAX_LINES = 200
MAX_QUANTITY = 1_000_000


class ChangeSource(enum.StrEnum):
    """Who moved an order: the partner's API call, the ERP, or an operator."""

    API = "api"
    ERP = "erp"
    OPERATOR = "operator"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class RequestedLine:
    """A line as the customer asked for it: what and how many, never a price."""

    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class OrderLine:
    line_no: int
    sku: str
    quantity: int
    #: The list price per piece the ERP quoted; None until the ERP has
    #: priced the line (placed while it was down).
    unit_price: Money | None
    #: The price per piece the ERP confirmed after its discount; None while
    #: it has confirmed none, which means no discount.
    net_unit_price: Money | None = None
    #: The tax rate the ERP confirmed for the line (0.05 is 5 %).
    tax_rate: Decimal = Decimal(0)

    @property
    def payable_unit_price(self) -> Money | None:
        """What one piece costs before tax: the confirmed net price, else the quote."""
        if self.net_unit_price is not None:
            return self.net_unit_price
        return self.unit_price

    @property
    def total(self) -> Money | None:
        """The line's amount before tax, after any discount the ERP confirmed."""
        unit = self.payable_unit_price
        return None if unit is None else unit * self.quantity


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    status: OrderStatus
    source: ChangeSource
    at: datetime
    note: str | None = None


@dataclass(slots=True)
class Order:
    id: uuid.UUID
    account_id: uuid.UUID
    status: OrderStatus
    currency: str
    lines: list[OrderLine]
    requested_date: date | None
    customer_reference: str | None
    created_at: datetime
    #: The customer's own order date (its purchase order's), in the account's
    #: calendar; reports group and filter by it.
    order_date: date
    erp_number: str | None = None
    rejection_reason: str | None = None
    timeline: list[TimelineEntry] = field(default_factory=list)

    @property
    def priced(self) -> bool:
        return all(line.unit_price is not None for line in self.lines)

    @property
    def total(self) -> Money | None:
        if not self.priced:
            return None
        total = Money.zero(self.currency)
        for line in self.lines:
            line_total = line.total
            assert line_total is not None
            total = total + line_total
        return total


def resolve_order_date(given: date | None, today: date) -> date:
    """The order's date: the customer's own, or today in the account's calendar.

    A dealer's purchase order may predate the portal order (an order keyed in
    from the dealer's own ERP), but it cannot come from the future.
    """
    if given is None:
        return today
    if given > today:
        raise InvalidInputError(
            f"order_date {given.isoformat()} is after today ({today.isoformat()}) "
            "in the account's time zone",
            field="order_date",
        )
    return given


def validate_lines(lines: list[RequestedLine]) -> list[RequestedLine]:
    """Refuse empty, oversized or nonsensical orders, naming the line at fault."""
    if not lines:
        raise InvalidInputError("an order needs at least one line", field="lines")
    if len(lines) > MAX_LINES:
        raise InvalidInputError(
            f"an order has at most {MAX_LINES} lines; this one has {len(lines)}",
            field="lines",
        )
    seen: dict[str, int] = {}
    for index, line in enumerate(lines):
        if not 1 <= line.quantity <= MAX_QUANTITY:
            raise InvalidInputError(
                f"lines[{index}]: quantity must be a whole number from 1 to "
                f"{MAX_QUANTITY}",
                field=f"lines[{index}].quantity",
            )
        if line.sku in seen:
            raise InvalidInputError(
                f"lines[{index}]: SKU {line.sku} is already on "
                f"lines[{seen[line.sku]}]; put the whole quantity on one line",
                field=f"lines[{index}].sku",
            )
        seen[line.sku] = index
    return lines


def needs_approval(total: Money, threshold: Decimal | None) -> bool:
    """Orders above the account's threshold wait for an approver."""
    return threshold is not None and total.amount > threshold
