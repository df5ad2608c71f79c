"""Which TPC-H orders the demo replays, and what each must become.

TPC-H's order history is the demo's script. :func:`plan_replay` takes a
slice of it (the first ``orders`` orders by key, which spreads over many
customers, every status and seven years of dates) and says, for each order,
what the dealer sends through the API and what the supplier's back office
does in the ERP afterwards:

- ``F`` (every line shipped): the goods ship and the invoice is posted with
  the line's TPC-H discount and tax; lines with return flag ``R`` come back
  as one return claim per order, which the back office approves.
- ``P`` (some lines shipped): the goods are picked; the order stays in
  fulfilment.
- ``O`` (nothing shipped): the ERP confirms the order and nothing more.

TPC-H prices a line at ``l_extendedprice = l_quantity * p_retailprice``; the
seed makes ``p_retailprice`` the ERP's list price, so the ERP quotes exactly
TPC-H's base price and the invoiced net price per piece is
``p_retailprice * (1 - l_discount)``.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from gateway.peers.tpch import TpchData
from gateway.peers.tryton_seed import SeedManifest

__all__ = ["ErpOutcome", "PlannedLine", "PlannedOrder", "ReplayPlan", "plan_replay"]


class ErpOutcome(enum.StrEnum):
    """How far the back office takes an order, from its TPC-H status."""

    CONFIRMED = "accepted"
    PICKED = "in_fulfilment"
    INVOICED = "invoiced"


_OUTCOMES = {
    "O": ErpOutcome.CONFIRMED,
    "P": ErpOutcome.PICKED,
    "F": ErpOutcome.INVOICED,
}


@dataclass(frozen=True, slots=True)
class PlannedLine:
    """One TPC-H line item as the dealer orders it and the ERP settles it."""

    linenumber: int
    sku: str
    quantity: int
    list_price: Decimal
    discount: Decimal
    tax: Decimal
    returned: bool

    @property
    def net_unit_price(self) -> Decimal:
        """The price per piece after the line's discount, exact to 1/10,000."""
        return self.list_price * (1 - self.discount)


@dataclass(frozen=True, slots=True)
class PlannedOrder:
    """One TPC-H order: who places it, what it holds, where the ERP takes it."""

    orderkey: int
    custkey: int
    order_date: dt.date
    outcome: ErpOutcome
    lines: tuple[PlannedLine, ...]

    @property
    def idempotency_key(self) -> str:
        """Stable per TPC-H order, so a repeated placement replays the first."""
        return f"tpch-order-{self.orderkey}"

    @property
    def customer_reference(self) -> str:
        return f"TPCH-{self.orderkey}"

    @property
    def returned_lines(self) -> tuple[tuple[int, PlannedLine], ...]:
        """The lines TPC-H marks returned, with their 1-based Portico line no."""
        return tuple(
            (line_no, line)
            for line_no, line in enumerate(self.lines, start=1)
            if line.returned
        )

    def order_body(self) -> dict[str, Any]:
        """The ``POST /v1/orders`` body a dealer's system would send."""
        return {
            "lines": [
                {"sku": line.sku, "quantity": line.quantity} for line in self.lines
            ],
            "order_date": self.order_date.isoformat(),
            "customer_reference": self.customer_reference,
        }

    def return_claim_body(self, order_id: str) -> dict[str, Any]:
        """The ``POST /v1/claims`` body returning every line TPC-H marks ``R``."""
        return {
            "order_id": order_id,
            "type": "return",
            "description": f"TPC-H order {self.orderkey}: lines returned",
            "lines": [
                {
                    "order_line_no": line_no,
                    "quantity": line.quantity,
                    "reason": "no_longer_needed",
                }
                for line_no, line in self.returned_lines
            ],
        }


@dataclass(frozen=True, slots=True)
class ReplayPlan:
    scale: float
    orders: tuple[PlannedOrder, ...]
    #: TPC-H orders of the slice left out because they list one part on two
    #: lines: Portico takes one line per SKU (the 422 asks the dealer to put
    #: the whole quantity on one line), and merging them would blur the two
    #: lines' own discounts and return flags that the back office replays.
    left_out: tuple[int, ...] = ()

    @property
    def custkeys(self) -> list[int]:
        return sorted({order.custkey for order in self.orders})

    def count(self, outcome: ErpOutcome) -> int:
        return sum(1 for order in self.orders if order.outcome is outcome)

    @property
    def returns(self) -> tuple[PlannedOrder, ...]:
        return tuple(order for order in self.orders if order.returned_lines)


def plan_replay(tpch: TpchData, manifest: SeedManifest, orders: int) -> ReplayPlan:
    """The first ``orders`` TPC-H orders (by key) whose customer the ERP knows
    and whose lines each name another part.

    Raises:
        ValueError: ``orders`` is not positive, or the data has no orders.
    """
    if orders < 1:
        raise ValueError("the demo replays at least one order")
    if not tpch.orders:
        raise ValueError("the TPC-H data was loaded without its orders")
    lines_of: dict[int, list[Any]] = defaultdict(list)
    for item in tpch.lineitems:
        lines_of[item.orderkey].append(item)
    chosen: list[Any] = []
    left_out: list[int] = []
    for order in sorted(tpch.orders, key=lambda row: row.orderkey):
        if len(chosen) == orders:
            break
        if order.custkey not in manifest.customers:
            continue
        parts = [item.partkey for item in lines_of[order.orderkey]]
        if len(set(parts)) < len(parts):
            left_out.append(order.orderkey)
            continue
        chosen.append(order)
    planned = []
    for order in chosen:
        items = sorted(lines_of[order.orderkey], key=lambda item: item.linenumber)
        planned.append(
            PlannedOrder(
                orderkey=order.orderkey,
                custkey=order.custkey,
                order_date=order.orderdate,
                outcome=_OUTCOMES[order.orderstatus],
                lines=tuple(
                    PlannedLine(
                        linenumber=item.linenumber,
                        sku=manifest.parts[item.partkey].code,
                        quantity=int(item.quantity),
                        list_price=manifest.parts[item.partkey].list_price,
                        discount=item.discount,
                        tax=item.tax,
                        returned=item.returnflag == "R",
                    )
                    for item in items
                ),
            )
        )
    return ReplayPlan(scale=tpch.scale, orders=tuple(planned), left_out=tuple(left_out))
