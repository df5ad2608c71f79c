"""Portico's orders as Tryton sales (``sale.sale``).

:class:`TrytonOrders` does the Tryton side of the four order methods of
:class:`~domain.ports.ErpPort` over one :class:`~connectors.tryton.rpc.TrytonRpc`
session. It raises Tryton's own exceptions for failed calls, which the
connector translates, and :class:`~domain.backends.BackendRejectedError`
(with Tryton's reason as the detail) for business refusals. Deadlines and
retries are the connector's.

How an order becomes a sale:

- ``reference`` holds Portico's order id; ``description`` the customer's own
  reference (purchase order number); ``shipping_date`` the requested date,
  unless that date is already past (Tryton refuses a shipping date before the
  sale date, which confirming sets to today).
- The party is ``customer_ref`` (a ``party.party`` id); its first address is
  both the invoice and the shipment address. Each SKU is a
  ``product.product.code``, sold in the product's default unit at the
  request's unit price.
- The sale is created, quoted and confirmed. Confirming makes Tryton process
  the sale: it comes back ``processing`` with a draft invoice and a waiting
  customer shipment. A refusal after the create (quote or confirm) removes
  the draft sale again, so no half-made order stays behind.
- A sale left in draft or quotation by an interrupted submission (the
  deadline struck between create and confirm) is not an order yet:
  :meth:`TrytonOrders.find` does not report it, and the next
  :meth:`TrytonOrders.submit` for the same order id takes it up instead of
  creating a second sale.

How Tryton's states become :class:`~domain.orders.erp.ErpOrderState`
(:func:`order_state`); draft and quotation sales are not reported:

- ``cancelled`` -> CANCELLED; ``done`` (shipped and paid) -> INVOICED.
- Shipped means ``shipment_state`` is ``sent``, or every customer shipment
  that is not cancelled is ``shipped`` (handed to the carrier) or ``done``.
- Invoiced means ``invoice_state`` is ``awaiting payment``, ``partially
  paid`` or ``paid``: an invoice was posted.
- Shipped and invoiced, or invoiced with nothing to ship
  (``shipment_state`` ``none``) -> INVOICED. A posted invoice alone, before
  the goods leave, does not make the order INVOICED.
- Otherwise shipped -> SHIPPED.
- Otherwise ``partially shipped``, or a shipment ``assigned``, ``picked``,
  ``packed`` or ``shipped`` -> IN_FULFILMENT.
- Otherwise (``confirmed``/``processing``, nothing picked yet) -> ACCEPTED.
- A shipment or invoice ``exception`` keeps the state above and says so in
  the change's ``detail``. Tryton has no delivery confirmation, so DELIVERED
  is never reported.

How changes are found (:meth:`TrytonOrders.changes`). Verified against
Tryton 8.2: confirming, completing the shipment (``do``) and posting the
invoice each update the sale's ``write_date``, because Tryton re-processes
the sale after them and writes its new ``shipment_state`` or
``invoice_state``. Assigning, picking, packing and shipping a customer
shipment do not touch the sale. So two streams are read, each ordered by
Tryton's ``last_modified_at`` (``write_date``, else ``create_date``; it is
searchable and sortable) and then id:

- sales in ``confirmed``, ``processing``, ``done`` or ``cancelled``;
- customer shipments in ``assigned``, ``picked``, ``packed`` or ``shipped``,
  each reported as the current state of the sales it belongs to (a shipment
  that becomes ``done`` or ``cancelled`` re-processes its sale, which the
  first stream reports). Tryton makes one shipment per sale; a shipment of
  no sale is passed over, and one that staff merged for several sales gives
  a change per sale, so such a page can hold more than ``limit`` changes.

A change to INVOICED carries the sale lines' invoiced terms (net unit price
and tax rate from the posted invoice; see
:mod:`connectors.tryton.invoiced_terms`), so discounts and taxes settled in
the back office reach Portico with the invoice.

A change's ``state`` is the sale's state when the page is read; its
``changed_at`` is the time of the record that changed. The cursor holds a
position, (timestamp, id), per stream; a stream resumes with ``(t > T) or
(t = T and id > ID)``, so records written in the same transaction (one
timestamp) are neither lost nor repeated. Both streams are merged by
(timestamp, stream, id) and cut at ``limit``. Consumers must treat changes
as snapshots: the same sale can appear more than once with the same state.

Known limit: positions are timestamps, so a write whose transaction started
before the newest change already returned but committed after it would be
missed. Tryton on SQLite serialises writing transactions; on PostgreSQL a
long-running back-office transaction could in principle slip past.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from connectors.tryton.invoiced_terms import invoiced_terms
from connectors.tryton.rpc import TrytonError, TrytonRpc, TrytonUserError
from domain.backends import BackendNotFoundError, BackendRejectedError
from domain.orders.erp import (
    ErpChangePage,
    ErpOrderChange,
    ErpOrderLine,
    ErpOrderReceipt,
    ErpOrderRequest,
    ErpOrderState,
)

__all__ = ["ChangeCursor", "Position", "TrytonOrders", "order_state"]

logger = logging.getLogger(__name__)

#: Sale states in which a sale is an order (reported and found).
ORDER_STATES: Final = ("confirmed", "processing", "done", "cancelled")
#: Sale states of a sale whose submission has not finished.
UNFINISHED_STATES: Final = ("draft", "quotation")
#: Customer shipment states that change an order's state without the sale
#: being written (see the module docstring).
ACTIVE_SHIPMENT_STATES: Final = ("assigned", "picked", "packed", "shipped")

_INVOICED: Final = frozenset({"awaiting payment", "partially paid", "paid"})
_LEFT_WAREHOUSE: Final = frozenset({"shipped", "done"})
_IN_WAREHOUSE_WORK: Final = frozenset({"assigned", "picked", "packed", "shipped"})

_SALE_FIELDS: Final = [
    "number",
    "reference",
    "state",
    "shipment_state",
    "invoice_state",
    "last_modified_at",
    # A dotted name reads the shipments as records: "shipments." -> [{id, state}]
    "shipments.state",
]
_ORDER: Final = [["last_modified_at", "ASC"], ["id", "ASC"]]
#: Tryton's reasons can be long (they list records); keep details readable.
_MAX_REASON: Final = 500
_CURSOR_VERSION: Final = "v1"
_NO_POSITION: Final = "-"


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """A place in one stream: the last record returned, by time then id."""

    at: dt.datetime
    id: int

    def encode(self) -> str:
        return f"{self.at.isoformat()}|{self.id}"

    @classmethod
    def decode(cls, text: str) -> Position | None:
        if text == _NO_POSITION:
            return None
        at, _, record_id = text.partition("|")
        parsed = dt.datetime.fromisoformat(at)
        if parsed.tzinfo is not None or not record_id.isdigit():
            raise ValueError("malformed position")
        return cls(parsed, int(record_id))

    def after(self) -> list[Any]:
        """The Tryton domain of the records after this position."""
        return [
            "OR",
            ("last_modified_at", ">", self.at),
            [("last_modified_at", "=", self.at), ("id", ">", self.id)],
        ]


@dataclass(frozen=True, slots=True)
class ChangeCursor:
    """Where :meth:`TrytonOrders.changes` left off, in each stream.

    Encoded as ``v1;SALES;SHIPMENTS``, each part ``ISO-TIMESTAMP|ID`` or
    ``-`` for the start of the stream; the timestamps are Tryton's naive UTC.
    """

    sales: Position | None = None
    shipments: Position | None = None

    def encode(self) -> str:
        return ";".join(
            [
                _CURSOR_VERSION,
                self.sales.encode() if self.sales else _NO_POSITION,
                self.shipments.encode() if self.shipments else _NO_POSITION,
            ]
        )

    @classmethod
    def decode(cls, text: str | None) -> ChangeCursor:
        """Parse an encoded cursor; None is the start of both streams.

        Raises:
            ValueError: ``text`` is not a cursor this module wrote.
        """
        if text is None:
            return cls()
        parts = text.split(";")
        if len(parts) != 3 or parts[0] != _CURSOR_VERSION:
            raise ValueError("not a Tryton order cursor")
        return cls(Position.decode(parts[1]), Position.decode(parts[2]))


def order_state(sale: Mapping[str, Any]) -> tuple[ErpOrderState, str | None]:
    """The order state of a sale read with its shipments, and a detail.

    ``sale`` holds ``state``, ``shipment_state``, ``invoice_state`` and
    ``shipments.`` (the shipments' states) as :class:`TrytonOrders` reads
    them. The rule is the module docstring's; the detail names a shipment or
    invoice exception, else it is None.
    """
    state = sale["state"]
    if state == "cancelled":
        return ErpOrderState.CANCELLED, None
    if state == "done":
        return ErpOrderState.INVOICED, None
    shipment_state = sale.get("shipment_state")
    invoice_state = sale.get("invoice_state")
    live = [
        shipment["state"]
        for shipment in sale.get("shipments.") or []
        if shipment.get("state") != "cancelled"
    ]
    shipped = shipment_state == "sent" or (
        bool(live) and all(s in _LEFT_WAREHOUSE for s in live)
    )
    invoiced = invoice_state in _INVOICED
    problems = [
        f"{kind} exception in Tryton"
        for kind, value in (("shipment", shipment_state), ("invoice", invoice_state))
        if value == "exception"
    ]
    detail = "; ".join(problems) or None
    if invoiced and (shipped or shipment_state == "none"):
        return ErpOrderState.INVOICED, detail
    if shipped:
        return ErpOrderState.SHIPPED, detail
    if shipment_state == "partially shipped" or any(
        s in _IN_WAREHOUSE_WORK for s in live
    ):
        return ErpOrderState.IN_FULFILMENT, detail
    return ErpOrderState.ACCEPTED, detail


class TrytonOrders:
    """Portico's orders as sales in the Tryton database behind ``rpc``.

    ``system`` is the connector instance's name, used in the backend errors
    this class raises. Every method raises :class:`TrytonError` for a failed
    call (the caller translates it) and :class:`BackendRejectedError` for a
    refusal whose reason Portico should show.
    """

    def __init__(self, rpc: TrytonRpc, system: str) -> None:
        self._rpc = rpc
        self._system = system
        self._currencies: dict[str, int] = {}
        self._tax_rates: dict[int, Decimal] = {}

    async def find(self, order_id: uuid.UUID) -> ErpOrderReceipt | None:
        """The sale whose reference is ``order_id``, once it is an order.

        A sale still in draft or quotation (a submission that did not
        finish) is not reported: :meth:`submit` takes it up. With several
        sales for one order id (made by hand), the oldest wins.
        """
        for sale in await self._sales_by_reference(order_id):
            if sale["state"] in ORDER_STATES:
                return _receipt(sale)
        return None

    async def submit(self, request: ErpOrderRequest) -> ErpOrderReceipt:
        """Create, quote and confirm the sale for ``request``.

        If a sale with this order id is already an order, returns it
        unchanged; if one was left in draft or quotation, finishes that one
        instead of creating another. Not safe to repeat blindly: two
        concurrent calls for one order id can create two sales.

        Raises:
            BackendRejectedError: unknown customer, SKU or currency, a
                product that is not salable, or Tryton refused the sale
                (the detail is Tryton's message). A refused sale is removed.
            TrytonError: a call failed; the sale may exist in any state, and
                :meth:`find` or the next :meth:`submit` sorts that out.
        """
        existing = await self._sales_by_reference(request.order_id)
        for sale in existing:
            if sale["state"] in ORDER_STATES:
                return _receipt(sale)
        if existing:
            sale_id = int(existing[0]["id"])
            state = str(existing[0]["state"])
            logger.info(
                "Taking up unfinished Tryton sale %d (%s) for order %s",
                sale_id,
                state,
                request.order_id,
            )
        else:
            values = await self._sale_values(request)
            try:
                (sale_id,) = await self._rpc.model("sale.sale", "create", [values])
            except TrytonUserError as error:
                raise self._rejected("submit_order", error) from None
            state = "draft"
        try:
            if state == "draft":
                await self._rpc.model("sale.sale", "quote", [sale_id])
            await self._rpc.model("sale.sale", "confirm", [sale_id])
        except TrytonUserError as error:
            await self._discard(sale_id)
            raise self._rejected("submit_order", error) from None
        (sale,) = await self._rpc.model("sale.sale", "read", [sale_id], ["number"])
        return _receipt(sale)

    async def cancel(self, external_id: str) -> None:
        """Cancel the sale ``external_id``; an already cancelled one is fine.

        Tryton cancels only sales in draft or quotation. Safe to repeat.

        Raises:
            BackendNotFoundError: there is no such sale.
            BackendRejectedError: Tryton refused, for example because the
                sale is already being processed; the detail says why.
        """
        sale_id = _sale_id(self._system, external_id)
        rows = await self._rpc.model(
            "sale.sale",
            "search_read",
            [("id", "=", sale_id)],
            0,
            1,
            None,
            ["state", "number"],
        )
        if not rows:
            raise BackendNotFoundError(
                self._system, "cancel_order", f"no sale {external_id}"
            )
        sale = rows[0]
        if sale["state"] == "cancelled":
            return
        try:
            await self._rpc.model("sale.sale", "cancel", [sale_id])
        except TrytonUserError as error:
            raise BackendRejectedError(
                self._system,
                "cancel_order",
                _truncate(
                    f"Tryton will not cancel sale {sale.get('number') or sale_id}"
                    f" in state {sale['state']}: {error}"
                ),
            ) from None

    async def changes(self, cursor: str | None, limit: int) -> ErpChangePage:
        """Up to ``limit`` order changes after ``cursor``, oldest first.

        See the module docstring for what counts as a change. An empty page
        returns ``cursor`` (or the start cursor when it is None).

        Raises:
            BackendRejectedError: ``cursor`` is not one this class made, or
                ``limit`` is not positive.
        """
        if limit < 1:
            raise BackendRejectedError(
                self._system, "order_changes", "limit must be at least 1"
            )
        try:
            start = ChangeCursor.decode(cursor)
        except ValueError:
            raise BackendRejectedError(
                self._system, "order_changes", "unreadable cursor"
            ) from None
        sales = await self._stream(
            "sale.sale",
            [("state", "in", list(ORDER_STATES))],
            start.sales,
            limit,
            _SALE_FIELDS,
        )
        shipments = await self._stream(
            "stock.shipment.out",
            [("state", "in", list(ACTIVE_SHIPMENT_STATES))],
            start.shipments,
            limit,
            [],
        )
        # Merge by time; at one time, sales before shipments, then by id.
        events: list[tuple[dt.datetime, int, int, Mapping[str, Any]]] = [
            (row["last_modified_at"], 0, int(row["id"]), row) for row in sales
        ] + [(row["last_modified_at"], 1, int(row["id"]), row) for row in shipments]
        events.sort(key=lambda event: event[:3])
        events = events[:limit]

        shipment_ids = [record_id for _, kind, record_id, _ in events if kind == 1]
        shipped_sales = await self._sales_of_shipments(shipment_ids)
        changes: list[ErpOrderChange] = []
        sales_at, shipments_at = start.sales, start.shipments
        for at, kind, record_id, row in events:
            if kind == 0:
                sales_at = Position(at, record_id)
                changes.append(_change(row, at))
            else:
                shipments_at = Position(at, record_id)
                changes.extend(
                    _change(sale, at) for sale in shipped_sales.get(record_id, [])
                )
        changes = await self._with_invoiced_terms(changes)
        return ErpChangePage(
            tuple(changes), ChangeCursor(sales_at, shipments_at).encode()
        )

    # Internals

    async def _with_invoiced_terms(
        self, changes: list[ErpOrderChange]
    ) -> list[ErpOrderChange]:
        """Attach the posted invoice's terms to every change of an invoiced sale."""
        invoiced = [
            int(change.external_id)
            for change in changes
            if change.state is ErpOrderState.INVOICED
        ]
        if not invoiced:
            return changes
        terms = await invoiced_terms(self._rpc, invoiced, self._tax_rates)
        return [
            dataclasses.replace(change, line_terms=terms[int(change.external_id)])
            if change.state is ErpOrderState.INVOICED
            and int(change.external_id) in terms
            else change
            for change in changes
        ]

    async def _sales_by_reference(self, order_id: uuid.UUID) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = await self._rpc.model(
            "sale.sale",
            "search_read",
            [("reference", "=", str(order_id))],
            0,
            None,
            [["id", "ASC"]],
            ["number", "state"],
        )
        return rows

    async def _sale_values(self, request: ErpOrderRequest) -> dict[str, Any]:
        """The ``sale.sale`` create values, after checking every reference."""
        if not request.lines:
            raise BackendRejectedError(
                self._system, "submit_order", "an order needs at least one line"
            )
        party_id, address_id = await self._party(request.customer_ref)
        currency_id = await self._currency(request.currency)
        products = await self._products(request.lines)
        lines = []
        for line in request.lines:
            if line.unit_price.currency != request.currency:
                raise BackendRejectedError(
                    self._system,
                    "submit_order",
                    f"SKU {line.sku} is priced in {line.unit_price.currency}, "
                    f"the order in {request.currency}",
                )
            product_id, unit_id = products[line.sku]
            lines.append(
                {
                    "type": "line",
                    "product": product_id,
                    "quantity": float(line.quantity),
                    "unit": unit_id,
                    # Not computed on create over RPC: the caller sends it.
                    "unit_price": line.unit_price.amount,
                }
            )
        values: dict[str, Any] = {
            "party": party_id,
            "invoice_address": address_id,
            "shipment_address": address_id,
            "currency": currency_id,
            "reference": str(request.order_id),
            "lines": [["create", lines]],
        }
        if request.customer_reference:
            values["description"] = request.customer_reference
        if request.requested_date and request.requested_date >= dt.date.today():
            values["shipping_date"] = request.requested_date
        return values

    async def _party(self, customer_ref: str) -> tuple[int, int]:
        """The party id and its first address for a customer reference."""
        if not customer_ref.isdigit():
            raise BackendRejectedError(
                self._system,
                "submit_order",
                f"customer reference {customer_ref[:40]!r} is not a Tryton id",
            )
        rows = await self._rpc.model(
            "party.party",
            "search_read",
            [("id", "=", int(customer_ref))],
            0,
            1,
            None,
            ["addresses"],
        )
        if not rows:
            raise BackendRejectedError(
                self._system, "submit_order", f"unknown customer {customer_ref}"
            )
        addresses = rows[0].get("addresses") or []
        if not addresses:
            raise BackendRejectedError(
                self._system,
                "submit_order",
                f"customer {customer_ref} has no address to ship and invoice to",
            )
        return int(customer_ref), int(addresses[0])

    async def _currency(self, code: str) -> int:
        if code not in self._currencies:
            found = await self._rpc.model(
                "currency.currency", "search", [("code", "=", code)], 0, 1
            )
            if not found:
                raise BackendRejectedError(
                    self._system, "submit_order", f"unknown currency {code}"
                )
            self._currencies[code] = int(found[0])
        return self._currencies[code]

    async def _products(
        self, lines: Sequence[ErpOrderLine]
    ) -> dict[str, tuple[int, int]]:
        """Product id and default unit per SKU; every SKU must be salable."""
        skus = sorted({line.sku for line in lines})
        rows = await self._rpc.model(
            "product.product",
            "search_read",
            [("code", "in", skus)],
            0,
            None,
            [["id", "ASC"]],
            ["code", "default_uom", "salable"],
        )
        found: dict[str, dict[str, Any]] = {}
        for row in rows:
            found.setdefault(row["code"], row)
        unknown = [sku for sku in skus if sku not in found]
        if unknown:
            raise BackendRejectedError(
                self._system,
                "submit_order",
                _truncate(f"unknown SKU: {', '.join(unknown)}"),
            )
        unsalable = [sku for sku in skus if not found[sku].get("salable")]
        if unsalable:
            raise BackendRejectedError(
                self._system,
                "submit_order",
                _truncate(f"not salable: {', '.join(unsalable)}"),
            )
        return {
            sku: (int(row["id"]), int(row["default_uom"])) for sku, row in found.items()
        }

    async def _discard(self, sale_id: int) -> None:
        """Remove a sale Tryton refused to quote or confirm (best effort)."""
        try:
            # Deleting needs draft or cancelled; cancel covers a quotation.
            await self._rpc.model("sale.sale", "cancel", [sale_id])
            await self._rpc.model("sale.sale", "delete", [sale_id])
        except TrytonError as error:
            logger.warning(
                "Could not remove refused Tryton sale %d: %s",
                sale_id,
                type(error).__name__,
            )

    async def _stream(
        self,
        model: str,
        domain: list[Any],
        after: Position | None,
        limit: int,
        fields: list[str],
    ) -> list[dict[str, Any]]:
        if after is not None:
            domain = [*domain, after.after()]
        rows: list[dict[str, Any]] = await self._rpc.model(
            model,
            "search_read",
            domain,
            0,
            limit,
            _ORDER,
            ["last_modified_at", *fields],
        )
        return rows

    async def _sales_of_shipments(
        self, shipment_ids: Iterable[int]
    ) -> dict[int, list[dict[str, Any]]]:
        """The sales each of ``shipment_ids`` ships, by shipment id."""
        wanted = set(shipment_ids)
        if not wanted:
            return {}
        sales = await self._rpc.model(
            "sale.sale",
            "search_read",
            [("shipments", "in", sorted(wanted))],
            0,
            None,
            [["id", "ASC"]],
            _SALE_FIELDS,
        )
        by_shipment: dict[int, list[dict[str, Any]]] = {}
        for sale in sales:
            for shipment in sale.get("shipments.") or []:
                if shipment["id"] in wanted:
                    by_shipment.setdefault(int(shipment["id"]), []).append(sale)
        return by_shipment

    def _rejected(self, operation: str, error: TrytonUserError) -> BackendRejectedError:
        return BackendRejectedError(self._system, operation, _truncate(str(error)))


def _receipt(sale: Mapping[str, Any]) -> ErpOrderReceipt:
    return ErpOrderReceipt(external_id=str(sale["id"]), number=sale.get("number") or "")


def _change(sale: Mapping[str, Any], at: dt.datetime) -> ErpOrderChange:
    state, detail = order_state(sale)
    return ErpOrderChange(
        order_id=_order_id(sale.get("reference")),
        external_id=str(sale["id"]),
        number=sale.get("number") or "",
        state=state,
        changed_at=at.replace(tzinfo=dt.UTC),
        detail=detail,
    )


def _order_id(reference: Any) -> uuid.UUID | None:
    if not isinstance(reference, str):
        return None
    with contextlib.suppress(ValueError):
        return uuid.UUID(reference)
    return None


def _sale_id(system: str, external_id: str) -> int:
    if not external_id.isdigit():
        raise BackendNotFoundError(
            system, "cancel_order", f"{external_id[:40]!r} is not a Tryton sale id"
        )
    return int(external_id)


def _truncate(text: str) -> str:
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"
