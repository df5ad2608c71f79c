"""Back-office actions on a Tryton peer, as the supplier's staff would do them.

Tests and the demo use these to move an order on in Tryton after Portico
submitted it: pick and ship its goods, post its invoice, and look at where
the sale stands. Each takes a logged-in :class:`~connectors.tryton.rpc.TrytonRpc`
(the peer's admin) and a ``sale.sale`` id, and raises Tryton's exceptions
unchanged.
"""

from __future__ import annotations

from typing import Any, Final, TypedDict

from connectors.tryton.rpc import TrytonProtocolError, TrytonRpc

__all__ = ["SaleState", "pick_sale", "post_invoices", "sale_state", "ship_sale"]

_SHIPMENT: Final = "stock.shipment.out"
#: Every step moves a shipment one state on; more than this is a loop.
_MAX_STEPS: Final = 8


class SaleState(TypedDict):
    """Where a sale stands in Tryton, in Tryton's own words."""

    state: str
    shipment_state: str
    invoice_state: str
    number: str | None


async def sale_state(rpc: TrytonRpc, sale_id: int) -> SaleState:
    """The sale's ``state``, ``shipment_state``, ``invoice_state`` and number."""
    row = await _sale(
        rpc, sale_id, ["state", "shipment_state", "invoice_state", "number"]
    )
    return SaleState(
        state=str(row["state"]),
        shipment_state=str(row["shipment_state"]),
        invoice_state=str(row["invoice_state"]),
        number=row.get("number"),
    )


async def pick_sale(rpc: TrytonRpc, sale_id: int) -> list[int]:
    """Reserve and pick the goods of the sale's open customer shipments.

    Each waiting shipment is assigned (forced when stock is short, as a
    warehouse clerk may) and then picked, leaving it ``picked`` (or
    ``assigned`` in a warehouse that picks straight from storage to output).
    Returns the ids of the sale's shipments.
    """
    shipment_ids = await _shipments(rpc, sale_id)
    for shipment_id in shipment_ids:
        await _advance(rpc, shipment_id, until={"picked", "packed", "done"})
    return shipment_ids


async def ship_sale(rpc: TrytonRpc, sale_id: int) -> list[int]:
    """Complete every customer shipment of the sale: assign, pick, pack, done.

    Shipments already done or cancelled are left alone. Tryton then
    re-processes the sale, whose ``shipment_state`` becomes ``sent``.
    Returns the ids of the sale's shipments.
    """
    shipment_ids = await _shipments(rpc, sale_id)
    for shipment_id in shipment_ids:
        await _advance(rpc, shipment_id, until={"done"})
    return shipment_ids


async def post_invoices(rpc: TrytonRpc, sale_id: int) -> list[int]:
    """Post the sale's invoices that are still draft or validated.

    Returns the ids of the invoices posted (none if all were already posted,
    paid or cancelled). Tryton then re-processes the sale, whose
    ``invoice_state`` becomes ``awaiting payment``.
    """
    row = await _sale(rpc, sale_id, ["invoices"])
    invoice_ids = [int(i) for i in row.get("invoices") or []]
    if not invoice_ids:
        return []
    invoices = await rpc.model("account.invoice", "read", invoice_ids, ["state"])
    to_post = sorted(
        int(invoice["id"])
        for invoice in invoices
        if invoice["state"] in ("draft", "validated")
    )
    if to_post:
        await rpc.model("account.invoice", "post", to_post)
    return to_post


async def _sale(rpc: TrytonRpc, sale_id: int, fields: list[str]) -> dict[str, Any]:
    rows = await rpc.model("sale.sale", "read", [sale_id], fields)
    if not isinstance(rows, list) or len(rows) != 1:
        raise TrytonProtocolError(f"sale.sale.read gave no sale {sale_id}")
    row: dict[str, Any] = rows[0]
    return row


async def _shipments(rpc: TrytonRpc, sale_id: int) -> list[int]:
    row = await _sale(rpc, sale_id, ["shipments"])
    return [int(i) for i in row.get("shipments") or []]


async def _advance(rpc: TrytonRpc, shipment_id: int, until: set[str]) -> None:
    """Press the shipment's next button until its state is in ``until``."""
    for _ in range(_MAX_STEPS):
        (shipment,) = await rpc.model(
            _SHIPMENT,
            "read",
            [shipment_id],
            ["state", "warehouse_storage", "warehouse_output"],
        )
        state = shipment["state"]
        if state in until or state in ("done", "cancelled"):
            return
        if state == "draft":
            await rpc.model(_SHIPMENT, "wait", [shipment_id])
        elif state == "waiting":
            await rpc.model(_SHIPMENT, "assign_try", [shipment_id])
            (after,) = await rpc.model(_SHIPMENT, "read", [shipment_id], ["state"])
            if after["state"] == "waiting":
                await rpc.model(_SHIPMENT, "assign_force", [shipment_id])
        elif state == "assigned":
            # Without a separate output location there is nothing to pick.
            direct = shipment["warehouse_storage"] == shipment["warehouse_output"]
            if direct and "picked" in until:
                return
            await rpc.model(_SHIPMENT, "pack" if direct else "pick", [shipment_id])
        elif state == "picked":
            await rpc.model(_SHIPMENT, "pack", [shipment_id])
        elif state in ("packed", "shipped"):
            await rpc.model(_SHIPMENT, "do", [shipment_id])
        else:
            raise TrytonProtocolError(f"unexpected shipment state {state!r}")
    raise TrytonProtocolError(f"shipment {shipment_id} did not reach {sorted(until)}")
