"""What Tryton finally charged for each line of a sale: its invoiced terms.

Portico quotes an order at the ERP's list price when it is placed; what the
customer pays is settled later in the back office, where the supplier's
staff may grant a discount and apply the line's taxes on the customer
invoice before posting it. The posted invoice is therefore the ERP's last
word on an order line's price, and :func:`invoiced_terms` reads it back:

- a sale's lines are numbered 1, 2, ... in id order, which is the order in
  which :class:`~connectors.tryton.orders.TrytonOrders` created them from
  Portico's lines;
- each sale line's invoice lines (``origin`` = ``sale.line,ID``) on posted or
  paid invoices give the net unit price; where a line was invoiced in
  several parts, the part posted last wins;
- the tax rate is the sum of the invoice line's percentage taxes; fixed
  amounts have no rate and are left out.

Sale lines with no posted invoice line yet are not reported.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Final

from connectors.tryton.rpc import TrytonRpc
from domain.orders.erp import ErpLineTerms

__all__ = ["invoiced_terms"]

_FINAL_INVOICE_STATES: Final = ["posted", "paid"]


async def invoiced_terms(
    rpc: TrytonRpc, sale_ids: Iterable[int], tax_rates: dict[int, Decimal]
) -> dict[int, tuple[ErpLineTerms, ...]]:
    """The invoiced terms of each sale's lines, by sale id.

    ``tax_rates`` caches ``account.tax`` rates by id across calls; taxes do
    not change rate once used on a posted invoice, so the cache never goes
    stale. Three calls at most (sale lines, invoice lines, unseen taxes),
    whatever the number of sales.
    """
    wanted = sorted(set(sale_ids))
    if not wanted:
        return {}
    sale_lines: list[dict[str, Any]] = await rpc.model(
        "sale.line",
        "search_read",
        [("sale", "in", wanted)],
        0,
        None,
        [["id", "ASC"]],
        ["sale"],
    )
    position: dict[int, tuple[int, int]] = {}
    numbered: dict[int, int] = {}
    for row in sale_lines:
        sale_id = int(row["sale"])
        numbered[sale_id] = numbered.get(sale_id, 0) + 1
        position[int(row["id"])] = (sale_id, numbered[sale_id])
    if not position:
        return {}

    invoice_lines: list[dict[str, Any]] = await rpc.model(
        "account.invoice.line",
        "search_read",
        [
            ("origin", "in", [f"sale.line,{line_id}" for line_id in position]),
            ("invoice.state", "in", _FINAL_INVOICE_STATES),
        ],
        0,
        None,
        [["id", "ASC"]],
        ["origin", "unit_price", "taxes"],
    )
    await _learn_rates(rpc, invoice_lines, tax_rates)

    latest: dict[int, ErpLineTerms] = {}
    for row in invoice_lines:
        line_id = int(str(row["origin"]).rpartition(",")[2])
        sale_id, line_no = position[line_id]
        rate = sum(
            (tax_rates.get(int(tax), Decimal(0)) for tax in row.get("taxes") or []),
            Decimal(0),
        )
        latest[line_id] = ErpLineTerms(
            line_no=line_no,
            net_unit_price=Decimal(row["unit_price"]),
            tax_rate=rate,
        )
    terms: dict[int, list[ErpLineTerms]] = {}
    for line_id, line_terms in sorted(latest.items()):
        terms.setdefault(position[line_id][0], []).append(line_terms)
    return {sale_id: tuple(found) for sale_id, found in terms.items()}


async def _learn_rates(
    rpc: TrytonRpc, invoice_lines: list[dict[str, Any]], tax_rates: dict[int, Decimal]
) -> None:
    unseen = sorted(
        {int(tax) for row in invoice_lines for tax in row.get("taxes") or []}
        - tax_rates.keys()
    )
    if not unseen:
        return
    for tax in await rpc.model("account.tax", "read", unseen, ["type", "rate"]):
        is_rate = tax["type"] == "percentage" and tax["rate"] is not None
        tax_rates[int(tax["id"])] = Decimal(tax["rate"]) if is_rate else Decimal(0)
