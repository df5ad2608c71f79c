"""Back-office actions on a Tryton peer, as the supplier's staff would do them.

Tests and the demo use these to move an order on in Tryton after Portico
submitted it: pick and ship its goods, settle the invoice's discount and
taxes, post its invoice, and look at where the sale stands. Each takes a
logged-in :class:`~connectors.tryton.rpc.TrytonRpc` (the peer's admin) and a
``sale.sale`` id, and raises Tryton's exceptions unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, TypedDict

from connectors.tryton.rpc import TrytonProtocolError, TrytonRpc, TrytonUserWarning

__all__ = [
    "LineSettlement",
    "SaleState",
    "TaxBook",
    "pick_sale",
    "post_invoices",
    "sale_state",
    "settle_invoice",
    "ship_sale",
]

_SHIPMENT: Final = "stock.shipment.out"
#: Every step moves a shipment one state on; more than this is a loop.
_MAX_STEPS: Final = 8
#: The Universal Chart's "Accrued Taxes (Other Than Payroll)": where the
#: taxes the back office sets up book what they collect.
_TAX_ACCOUNT_CODE: Final = "2.2.3"


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


@dataclass(frozen=True, slots=True)
class LineSettlement:
    """The terms staff settle for one sale line: net price per piece and tax."""

    net_unit_price: Decimal
    tax_rate: Decimal


class TaxBook:
    """Percentage taxes by rate, created in Tryton the first time one is used.

    A fresh seed has no taxes; an accountant sets up each rate once. Keep one
    book per Tryton database: it remembers the ids it found or made.
    """

    def __init__(self) -> None:
        self._by_rate: dict[Decimal, int] = {}
        self._account: int | None = None

    async def tax(self, rpc: TrytonRpc, rate: Decimal) -> int:
        """The id of the percentage tax of ``rate`` (0.05 is 5 %)."""
        rate = rate.normalize()
        found = self._by_rate.get(rate)
        if found is not None:
            return found
        name = f"Sales tax {rate * 100:f} %"
        existing = await rpc.model("account.tax", "search", [("name", "=", name)], 0, 1)
        if existing:
            self._by_rate[rate] = int(existing[0])
            return self._by_rate[rate]
        context = await rpc.context()
        account = await self._tax_account(rpc)
        (created,) = await rpc.model(
            "account.tax",
            "create",
            [
                {
                    "name": name,
                    "description": name,
                    "type": "percentage",
                    "rate": rate,
                    "company": context["company"],
                    "invoice_account": account,
                    "credit_note_account": account,
                }
            ],
        )
        self._by_rate[rate] = int(created)
        return self._by_rate[rate]

    async def _tax_account(self, rpc: TrytonRpc) -> int:
        if self._account is None:
            found = await rpc.model(
                "account.account", "search", [("code", "=", _TAX_ACCOUNT_CODE)], 0, 1
            )
            if not found:
                raise TrytonProtocolError(f"no account {_TAX_ACCOUNT_CODE} to book tax")
            self._account = int(found[0])
        return self._account


async def settle_invoice(
    rpc: TrytonRpc,
    sale_id: int,
    settlements: Sequence[LineSettlement],
    taxes: TaxBook,
) -> list[int]:
    """Set each sale line's net price and tax on its draft invoice line, then post.

    ``settlements`` go to the sale's lines in id order (the order Portico
    submitted them in). Tryton warns that the lines no longer carry the
    products' default taxes; staff who settle terms by hand confirm that,
    and so does this. Returns the ids of the invoices posted.

    Raises:
        TrytonProtocolError: the sale has a different number of lines, or a
            line has no draft invoice line to settle.
    """
    row = await _sale(rpc, sale_id, ["lines"])
    line_ids = sorted(int(i) for i in row.get("lines") or [])
    if len(line_ids) != len(settlements):
        raise TrytonProtocolError(
            f"sale {sale_id} has {len(line_ids)} lines, "
            f"{len(settlements)} settlements were given"
        )
    invoice_lines = await rpc.model(
        "account.invoice.line",
        "search_read",
        [
            ("origin", "in", [f"sale.line,{line_id}" for line_id in line_ids]),
            ("invoice.state", "=", "draft"),
        ],
        0,
        None,
        [["id", "ASC"]],
        ["origin"],
    )
    by_origin = {str(line["origin"]): int(line["id"]) for line in invoice_lines}
    for line_id, settlement in zip(line_ids, settlements, strict=True):
        invoice_line = by_origin.get(f"sale.line,{line_id}")
        if invoice_line is None:
            raise TrytonProtocolError(f"sale line {line_id} has no draft invoice line")
        tax = await taxes.tax(rpc, settlement.tax_rate)
        await rpc.model(
            "account.invoice.line",
            "write",
            [invoice_line],
            {"unit_price": settlement.net_unit_price, "taxes": [["add", [tax]]]},
        )
    try:
        return await post_invoices(rpc, sale_id)
    except TrytonUserWarning as warning:
        await rpc.model(
            "res.user.warning",
            "create",
            [{"user": rpc.user_id, "name": warning.name, "always": False}],
        )
        return await post_invoices(rpc, sale_id)


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
