"""The ERP's paperwork in Tryton: documents, their rendering and the ledger.

:class:`TrytonDocuments` does the Tryton side of
:class:`~domain.ports.ErpDocumentsPort`. Like :mod:`connectors.tryton.orders`
it raises Tryton's own exceptions for failed calls (the connector translates
them) and backend errors for answers Portico should show; deadlines and
retries are the connector's.

Which Tryton records are which documents (``external_ref`` is
``MODEL,ID``):

- ``account.invoice`` of type ``out``: an invoice, or a credit note when
  Tryton numbered it from the credit-note sequence (negative total).
  Reported once posted; ``posted`` -> ISSUED, ``paid`` -> PAID,
  ``cancelled`` (with a number) -> CANCELLED. Drafts are the supplier's
  business. The due date is the latest maturity of the lines to pay; the
  amount is the total, always positive (the type says which way it goes).
- ``stock.shipment.out``: the delivery note. ``waiting`` to ``packed`` ->
  DRAFT (being prepared), ``shipped`` and ``done`` -> ISSUED,
  ``cancelled`` -> CANCELLED. Dated by the effective date, else the planned
  one. No amount.
- ``sale.sale`` from quotation on: the quotation (Tryton renders the sale).
  ``quotation`` and any later state -> ISSUED, ``cancelled`` -> CANCELLED.

Changes come from three streams, each ordered by ``last_modified_at`` and
id and resumed with the same (timestamp, id) positions, and with the same
known limit, as the order feed in :mod:`connectors.tryton.orders`.

Content is rendered by Tryton's REST report route
(``/DB/rest/report/REPORT/ID``), streamed through as it arrives. The REST
API authenticates with an application key of the connector's own user,
found or created over JSON-RPC (Tryton lets every user manage their own
keys) and kept for the process.

The ledger is the customer's receivable account: posted
``account.move.line`` records of the party on receivable accounts. A line of
an invoice's own move is that invoice or credit note; a line of its
cancellation move, or of a move with no invoice behind it but not in a cash
journal, is an adjustment; everything else (the pay wizard's moves, cash
journal entries) is a payment.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.message
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final
from urllib.parse import quote

import httpx
import orjson

from connectors.tryton.orders import Position
from connectors.tryton.rpc import TrytonRpc, TrytonServerError
from domain.backends import BackendNotFoundError, BackendRejectedError
from domain.documents.erp import (
    CustomerLedger,
    ErpDocument,
    ErpDocumentPage,
    LedgerEntry,
    LedgerEntryKind,
)
from domain.documents.model import DocumentContent, DocumentStatus, DocumentType
from domain.money import Money

__all__ = ["DocumentCursor", "TrytonDocuments"]

INVOICE: Final = "account.invoice"
SHIPMENT: Final = "stock.shipment.out"
SALE: Final = "sale.sale"
#: The report that renders each model's document.
REPORTS: Final = {
    INVOICE: "account.invoice",
    SHIPMENT: "stock.shipment.out.delivery_note",
    SALE: "sale.sale",
}
_MEDIA_TYPES: Final = {
    "odt": "application/vnd.oasis.opendocument.text",
    "pdf": "application/pdf",
}
_CURSOR_VERSION: Final = "d1"
_NO_POSITION: Final = "-"
_ORDER: Final = [["last_modified_at", "ASC"], ["id", "ASC"]]

_INVOICE_STATUS: Final = {
    "posted": DocumentStatus.ISSUED,
    "paid": DocumentStatus.PAID,
    "cancelled": DocumentStatus.CANCELLED,
}
_SHIPMENT_STATUS: Final = {
    "waiting": DocumentStatus.DRAFT,
    "assigned": DocumentStatus.DRAFT,
    "picked": DocumentStatus.DRAFT,
    "packed": DocumentStatus.DRAFT,
    "shipped": DocumentStatus.ISSUED,
    "done": DocumentStatus.ISSUED,
    "cancelled": DocumentStatus.CANCELLED,
}
_QUOTE_STATES: Final = ("quotation", "confirmed", "processing", "done", "cancelled")

_INVOICE_FIELDS: Final = [
    "number",
    "state",
    "party",
    "invoice_date",
    "total_amount",
    "sequence_type_cache",
    "currency.code",
    "lines_to_pay.maturity_date",
    "sales.reference",
]
_SHIPMENT_FIELDS: Final = [
    "number",
    "state",
    "customer",
    "effective_date",
    "planned_date",
]
_SALE_FIELDS: Final = [
    "number",
    "state",
    "party",
    "quotation_date",
    "sale_date",
    "total_amount",
    "currency.code",
    "reference",
]


@dataclass(frozen=True, slots=True)
class DocumentCursor:
    """Where :meth:`TrytonDocuments.changes` left off in each stream.

    Encoded as ``d1;INVOICES;SHIPMENTS;SALES``, each part a
    :class:`~connectors.tryton.orders.Position` or ``-``.
    """

    invoices: Position | None = None
    shipments: Position | None = None
    sales: Position | None = None

    def encode(self) -> str:
        parts = [self.invoices, self.shipments, self.sales]
        return ";".join(
            [_CURSOR_VERSION, *(p.encode() if p else _NO_POSITION for p in parts)]
        )

    @classmethod
    def decode(cls, text: str | None) -> DocumentCursor:
        """Parse an encoded cursor; None is the start of every stream.

        Raises:
            ValueError: ``text`` is not a cursor this module wrote.
        """
        if text is None:
            return cls()
        parts = text.split(";")
        if len(parts) != 4 or parts[0] != _CURSOR_VERSION:
            raise ValueError("not a Tryton document cursor")
        return cls(*(Position.decode(part) for part in parts[1:]))


class TrytonDocuments:
    """Tryton's documents over one JSON-RPC session and its HTTP client.

    ``system`` is the connector instance's name, for backend errors.
    """

    def __init__(self, rpc: TrytonRpc, http: httpx.AsyncClient, system: str) -> None:
        self._rpc = rpc
        self._http = http
        self._system = system
        self._rest_key: str | None = None
        self._ledger_currency: str | None = None

    async def changes(self, cursor: str | None, limit: int) -> ErpDocumentPage:
        """Up to ``limit`` documents changed after ``cursor``, oldest first.

        Raises:
            BackendRejectedError: an unreadable cursor or a limit below 1.
        """
        if limit < 1:
            raise BackendRejectedError(
                self._system, "document_changes", "limit must be at least 1"
            )
        try:
            start = DocumentCursor.decode(cursor)
        except ValueError:
            raise BackendRejectedError(
                self._system, "document_changes", "unreadable cursor"
            ) from None
        invoices = await self._stream(
            INVOICE,
            [
                ("type", "=", "out"),
                [
                    "OR",
                    ("state", "in", ["posted", "paid"]),
                    [("state", "=", "cancelled"), ("number", "!=", None)],
                ],
            ],
            start.invoices,
            limit,
            _INVOICE_FIELDS,
        )
        shipments = await self._stream(
            SHIPMENT,
            [("state", "in", list(_SHIPMENT_STATUS))],
            start.shipments,
            limit,
            _SHIPMENT_FIELDS,
        )
        sales = await self._stream(
            SALE,
            [("state", "in", list(_QUOTE_STATES)), ("number", "!=", None)],
            start.sales,
            limit,
            _SALE_FIELDS,
        )
        merged = sorted(
            [(row["last_modified_at"], 0, int(row["id"]), row) for row in invoices]
            + [(row["last_modified_at"], 1, int(row["id"]), row) for row in shipments]
            + [(row["last_modified_at"], 2, int(row["id"]), row) for row in sales],
            key=lambda item: item[:3],
        )[:limit]
        shipment_sales = await self._sales_of_shipments(
            record_id for _, stream, record_id, _ in merged if stream == 1
        )
        positions = [start.invoices, start.shipments, start.sales]
        documents: list[ErpDocument] = []
        for at, stream, record_id, row in merged:
            positions[stream] = Position(at, record_id)
            if stream == 0:
                documents.append(_invoice(row))
            elif stream == 1:
                documents.append(_shipment(row, shipment_sales.get(record_id)))
            else:
                documents.append(_quote(row))
        return ErpDocumentPage(tuple(documents), DocumentCursor(*positions).encode())

    async def open(self, external_ref: str) -> DocumentContent:
        """Start Tryton's rendering of ``external_ref`` and stream it.

        Raises:
            BackendNotFoundError: no such document, or none Portico renders.
            TrytonError: the server failed (status 5xx) or could not be
                reached; httpx's errors pass through for the connector.
        """
        model, record_id = _parse_ref(self._system, external_ref)
        response = await self._report(model, record_id)
        if response.status_code == 401:
            # The key was revoked or removed: make a new one, once.
            await response.aclose()
            self._rest_key = None
            response = await self._report(model, record_id)
        if response.status_code != 200:
            status = response.status_code
            await response.aclose()
            if status in {400, 403, 404}:
                raise BackendNotFoundError(
                    self._system, "open_document", f"no document {external_ref}"
                )
            raise TrytonServerError(
                f"Tryton answered HTTP {status}",
                status_code=status,
                method=f"rest/report/{REPORTS[model]}",
            )
        filename = _filename(response.headers.get("content-disposition"))
        media_type = response.headers.get("content-type") or _MEDIA_TYPES.get(
            filename.rsplit(".", 1)[-1], "application/octet-stream"
        )
        length = response.headers.get("content-length")
        return DocumentContent(
            media_type=media_type.split(";")[0].strip(),
            filename=filename,
            size=int(length) if length and length.isdigit() else None,
            chunks=response.aiter_bytes(),
            aclose=response.aclose,
        )

    async def ledger(
        self, customer_ref: str, start: dt.date, end: dt.date
    ) -> CustomerLedger:
        """The party's receivable postings around ``start``..``end``.

        Raises:
            BackendRejectedError: ``customer_ref`` is not a Tryton party id.
        """
        if not customer_ref.isdigit():
            raise BackendRejectedError(
                self._system, "customer_ledger", "customer reference is not an id"
            )
        party = int(customer_ref)
        currency = await self._currency()
        base: list[Any] = [
            ("party", "=", party),
            ("account.type.receivable", "=", True),
            ("move.state", "=", "posted"),
        ]
        before = await self._rpc.model(
            "account.move.line",
            "search_read",
            [*base, ("date", "<", start)],
            0,
            None,
            None,
            ["debit", "credit"],
        )
        opening = sum(
            (Decimal(row["debit"]) - Decimal(row["credit"]) for row in before),
            Decimal(0),
        )
        rows = await self._rpc.model(
            "account.move.line",
            "search_read",
            [*base, ("date", ">=", start), ("date", "<=", end)],
            0,
            None,
            [["date", "ASC"], ["id", "ASC"]],
            [
                "date",
                "debit",
                "credit",
                "description",
                "move.number",
                "move.origin",
                "move.description",
                "move.journal.type",
            ],
        )
        invoices = await self._invoices_by_id(_invoice_ids(rows))
        return CustomerLedger(
            currency=currency,
            start=start,
            end=end,
            opening_balance=Money(opening, currency),
            entries=tuple(_ledger_entry(row, invoices) for row in rows),
        )

    # Internals

    async def _report(self, model: str, record_id: int) -> httpx.Response:
        key = await self._key()
        context = await self._rpc.context()
        header = base64.urlsafe_b64encode(
            orjson.dumps(
                {
                    name: context[name]
                    for name in ("company", "language")
                    if name in context
                }
            )
        ).decode()
        path = (
            f"/{quote(self._rpc.database, safe='')}/rest/report/"
            f"{REPORTS[model]}/{record_id}"
        )
        request = self._http.build_request(
            "GET",
            path,
            headers={"Authorization": f"Bearer {key}", "X-Tryton-Context": header},
        )
        return await self._http.send(request, stream=True)

    async def _key(self) -> str:
        """The connector user's REST application key, found or made once."""
        if self._rest_key is None:
            await self._rpc.context()  # logs in, so the user id is known
            user = self._rpc.user_id
            found = await self._rpc.model(
                "res.user.application",
                "search_read",
                [
                    ("user", "=", user),
                    ("application", "=", "rest"),
                    ("state", "=", "validated"),
                ],
                0,
                1,
                [["id", "ASC"]],
                ["key"],
            )
            if not found:
                ids = await self._rpc.model(
                    "res.user.application",
                    "create",
                    [{"user": user, "application": "rest"}],
                )
                found = await self._rpc.model(
                    "res.user.application", "read", ids, ["key"]
                )
            self._rest_key = str(found[0]["key"])
        return self._rest_key

    async def _currency(self) -> str:
        if self._ledger_currency is None:
            context = await self._rpc.context()
            (company,) = await self._rpc.model(
                "company.company", "read", [context["company"]], ["currency.code"]
            )
            self._ledger_currency = str(company["currency."]["code"])
        return self._ledger_currency

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
    ) -> dict[int, dict[str, Any]]:
        """The sale each shipment delivers (the first, if staff merged some)."""
        wanted = sorted(set(shipment_ids))
        if not wanted:
            return {}
        sales = await self._rpc.model(
            SALE,
            "search_read",
            [("shipments", "in", wanted)],
            0,
            None,
            [["id", "ASC"]],
            ["reference", "shipments"],
        )
        found: dict[int, dict[str, Any]] = {}
        for sale in sales:
            for shipment_id in sale.get("shipments") or []:
                found.setdefault(int(shipment_id), sale)
        return found

    async def _invoices_by_id(
        self, invoice_ids: list[int]
    ) -> dict[int, dict[str, Any]]:
        if not invoice_ids:
            return {}
        rows = await self._rpc.model(
            INVOICE,
            "read",
            invoice_ids,
            ["number", "move", "cancel_move", "sequence_type_cache"],
        )
        return {int(row["id"]): row for row in rows}


def _parse_ref(system: str, external_ref: str) -> tuple[str, int]:
    model, _, record_id = external_ref.partition(",")
    if model not in REPORTS or not record_id.isdigit():
        raise BackendNotFoundError(
            system, "open_document", f"{external_ref[:60]!r} is not a document"
        )
    return model, int(record_id)


def _filename(disposition: str | None) -> str:
    """The file name Tryton gave in its Content-Disposition, if any."""
    if not disposition:
        return "document"
    message = email.message.Message()
    message["content-disposition"] = disposition
    return message.get_filename() or "document"


def _money(amount: Any, row: Mapping[str, Any]) -> Money | None:
    currency = (row.get("currency.") or {}).get("code")
    if amount is None or currency is None:
        return None
    return Money(abs(Decimal(amount)), str(currency))


def _portico_id(reference: Any) -> uuid.UUID | None:
    """Portico's id from a sale's reference, for sales placed through it."""
    if not isinstance(reference, str):
        return None
    try:
        return uuid.UUID(reference)
    except ValueError:
        return None


def _invoice(row: Mapping[str, Any]) -> ErpDocument:
    maturities = [
        line["maturity_date"]
        for line in row.get("lines_to_pay.") or []
        if line.get("maturity_date") is not None
    ]
    sales = row.get("sales.") or []
    sale = sales[0] if sales else None
    credit = row.get("sequence_type_cache") == "credit_note" or (
        row.get("total_amount") is not None and Decimal(row["total_amount"]) < 0
    )
    return ErpDocument(
        external_ref=f"{INVOICE},{row['id']}",
        type=DocumentType.CREDIT_NOTE if credit else DocumentType.INVOICE,
        status=_INVOICE_STATUS[row["state"]],
        customer_ref=str(row["party"]),
        number=row.get("number"),
        issue_date=row.get("invoice_date"),
        due_date=max(maturities) if maturities else None,
        amount=_money(row.get("total_amount"), row),
        order_external_id=None if sale is None else str(sale["id"]),
        order_id=None if sale is None else _portico_id(sale.get("reference")),
        changed_at=row["last_modified_at"].replace(tzinfo=dt.UTC),
    )


def _shipment(row: Mapping[str, Any], sale: Mapping[str, Any] | None) -> ErpDocument:
    return ErpDocument(
        external_ref=f"{SHIPMENT},{row['id']}",
        type=DocumentType.DELIVERY_NOTE,
        status=_SHIPMENT_STATUS[row["state"]],
        customer_ref=str(row["customer"]),
        number=row.get("number"),
        issue_date=row.get("effective_date") or row.get("planned_date"),
        due_date=None,
        amount=None,
        order_external_id=None if sale is None else str(sale["id"]),
        order_id=None if sale is None else _portico_id(sale.get("reference")),
        changed_at=row["last_modified_at"].replace(tzinfo=dt.UTC),
    )


def _quote(row: Mapping[str, Any]) -> ErpDocument:
    cancelled = row["state"] == "cancelled"
    return ErpDocument(
        external_ref=f"{SALE},{row['id']}",
        type=DocumentType.QUOTE,
        status=DocumentStatus.CANCELLED if cancelled else DocumentStatus.ISSUED,
        customer_ref=str(row["party"]),
        number=row.get("number"),
        issue_date=row.get("quotation_date") or row.get("sale_date"),
        due_date=None,
        amount=_money(row.get("total_amount"), row),
        order_external_id=str(row["id"]),
        order_id=_portico_id(row.get("reference")),
        changed_at=row["last_modified_at"].replace(tzinfo=dt.UTC),
    )


def _origin_invoice(row: Mapping[str, Any]) -> int | None:
    origin = (row.get("move.") or {}).get("origin")
    if isinstance(origin, str) and origin.startswith(f"{INVOICE},"):
        record_id = origin.partition(",")[2]
        if record_id.isdigit():
            return int(record_id)
    return None


def _invoice_ids(rows: Iterable[Mapping[str, Any]]) -> list[int]:
    return sorted({i for row in rows if (i := _origin_invoice(row)) is not None})


def _ledger_entry(
    row: Mapping[str, Any], invoices: Mapping[int, Mapping[str, Any]]
) -> LedgerEntry:
    move = row.get("move.") or {}
    move_id = move.get("id")
    invoice_id = _origin_invoice(row)
    invoice = invoices.get(invoice_id) if invoice_id is not None else None
    journal_type = (move.get("journal.") or {}).get("type")
    document_ref = None
    if invoice is not None and invoice.get("move") == move_id:
        credit_note = invoice.get("sequence_type_cache") == "credit_note"
        kind = LedgerEntryKind.CREDIT_NOTE if credit_note else LedgerEntryKind.INVOICE
        document_ref = f"{INVOICE},{invoice_id}"
        reference = invoice.get("number") or move.get("number") or ""
    elif invoice is not None and invoice.get("cancel_move") == move_id:
        kind = LedgerEntryKind.ADJUSTMENT
        document_ref = f"{INVOICE},{invoice_id}"
        reference = invoice.get("number") or move.get("number") or ""
    elif invoice is not None or journal_type == "cash":
        kind = LedgerEntryKind.PAYMENT
        reference = move.get("number") or ""
    else:
        kind = LedgerEntryKind.ADJUSTMENT
        reference = move.get("number") or ""
    description = row.get("description") or move.get("description") or ""
    return LedgerEntry(
        date=row["date"],
        kind=kind,
        reference=str(reference),
        description=str(description),
        debit=Decimal(row["debit"]),
        credit=Decimal(row["credit"]),
        document_ref=document_ref,
    )
