"""The supplier's back office during the demo: staff working in Tryton.

Portico never moves an order on by itself; the ERP does, and Portico learns
of it by polling. So the demo plays the supplier's staff in Tryton itself,
over its own admin session, following TPC-H's history (see
:mod:`gateway.demo.plan`): ship and invoice the finished orders with their
TPC-H discount and tax, pick the partly shipped ones, and approve the
complaints Portico filed for returned lines.

Everything here is serial: a SQLite-backed Tryton serialises writes anyway,
and concurrent creates there collide on sequences.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from connectors.tryton.rpc import TrytonRpc
from gateway.demo.plan import ErpOutcome, PlannedOrder
from gateway.peers.tryton_ops import (
    LineSettlement,
    TaxBook,
    pick_sale,
    settle_invoice,
    ship_sale,
)

__all__ = ["approve_complaints", "sales_by_reference", "work_orders"]

Tick = Callable[[], None]


async def sales_by_reference(
    rpc: TrytonRpc, order_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """The confirmed Tryton sale of each Portico order id that has one."""
    rows: list[dict[str, Any]] = await rpc.model(
        "sale.sale",
        "search_read",
        [
            ("reference", "in", [str(order_id) for order_id in order_ids]),
            ("state", "in", ["confirmed", "processing", "done"]),
        ],
        0,
        None,
        [["id", "ASC"]],
        ["reference"],
    )
    return {uuid.UUID(str(row["reference"])): int(row["id"]) for row in rows}


async def work_orders(
    rpc: TrytonRpc,
    orders: Sequence[tuple[PlannedOrder, uuid.UUID]],
    taxes: TaxBook,
    tick: Tick,
) -> None:
    """Take each (planned order, Portico id) as far as TPC-H says it went.

    Raises:
        LookupError: an order has no confirmed sale in Tryton yet.
    """
    sales = await sales_by_reference(rpc, [order_id for _, order_id in orders])
    for planned, order_id in orders:
        sale_id = sales.get(order_id)
        if sale_id is None:
            raise LookupError(f"order {order_id} has no confirmed Tryton sale")
        if planned.outcome is ErpOutcome.PICKED:
            await pick_sale(rpc, sale_id)
        elif planned.outcome is ErpOutcome.INVOICED:
            await ship_sale(rpc, sale_id)
            await settle_invoice(
                rpc,
                sale_id,
                [
                    LineSettlement(line.net_unit_price, line.tax)
                    for line in planned.lines
                ],
                taxes,
            )
        tick()


async def approve_complaints(
    rpc: TrytonRpc, claim_ids: Sequence[uuid.UUID], tick: Tick
) -> Mapping[uuid.UUID, int]:
    """Approve the waiting complaint Portico filed for each claim id.

    Approving a return complaint makes Tryton carry out its return action
    (a return sale), which Portico reports as the claim resolved. Returns
    the complaint ids approved, by claim id; a claim whose complaint is not
    waiting (not filed yet, or already decided) is left out.
    """
    rows: list[dict[str, Any]] = await rpc.model(
        "sale.complaint",
        "search_read",
        [
            ("reference", "in", [str(claim_id) for claim_id in claim_ids]),
            ("state", "=", "waiting"),
        ],
        0,
        None,
        [["id", "ASC"]],
        ["reference"],
    )
    approved: dict[uuid.UUID, int] = {}
    for row in rows:
        await rpc.model("sale.complaint", "approve", [int(row["id"])])
        approved[uuid.UUID(str(row["reference"]))] = int(row["id"])
        tick()
    return approved
