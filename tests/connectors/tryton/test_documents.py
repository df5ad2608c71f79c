"""Documents through the Tryton connector, against the real Tryton peer:
the change feed, rendered content streamed from the REST report route, and
the customer's ledger. The cursor is checked without a server."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from connectors.tryton.connector import TrytonConnector
from connectors.tryton.documents import DocumentCursor
from connectors.tryton.orders import Position
from connectors.tryton.rpc import TrytonRpc
from domain.backends import BackendNotFoundError, BackendRejectedError
from domain.documents.erp import ErpDocument, LedgerEntryKind
from domain.documents.model import DocumentStatus, DocumentType
from gateway.peers.tryton import TrytonPeer
from gateway.peers.tryton_ops import post_invoices, ship_sale
from tests.connectors.tryton.test_orders import backoffice, connector, order_request
from tests.gateway.documents.backoffice import pay_invoice

__all__ = ["backoffice", "connector"]

CUSTKEY = 41


async def feed(
    connector: TrytonConnector, cursor: str | None, limit: int
) -> tuple[list[ErpDocument], str]:
    documents: list[ErpDocument] = []
    while True:
        page = await connector.document_changes(cursor, limit)
        if not page.documents:
            return documents, page.cursor
        documents += page.documents
        cursor = page.cursor


def test_the_cursor_round_trips_and_refuses_strangers() -> None:
    at = dt.datetime(2026, 12, 3, 10, 0, 0, 123)
    cursor = DocumentCursor(Position(at, 7), None, Position(at, 9))

    assert DocumentCursor.decode(cursor.encode()) == cursor
    assert DocumentCursor.decode(None) == DocumentCursor()
    with pytest.raises(ValueError, match="document cursor"):
        DocumentCursor.decode("v1;-;-")


@pytest.mark.tryton
async def test_a_foreign_cursor_is_rejected(connector: TrytonConnector) -> None:
    with pytest.raises(BackendRejectedError):
        await connector.document_changes("v1;-;-", 10)


@pytest.mark.tryton
async def test_the_feed_reports_quote_delivery_note_and_invoice_once_each(
    connector: TrytonConnector, tryton_peer: TrytonPeer, backoffice: TrytonRpc
) -> None:
    _, start = await feed(connector, None, 500)
    request = order_request(tryton_peer, [(81, "3", "10.10")], custkey=CUSTKEY)
    receipt = await connector.submit_order(request)
    sale_id = int(receipt.external_id)
    await ship_sale(backoffice, sale_id)
    [invoice_id] = await post_invoices(backoffice, sale_id)

    # A page size of one cuts between every record of the three streams.
    documents, end = await feed(connector, start, 1)
    again, _ = await feed(connector, end, 50)

    mine = [d for d in documents if d.order_external_id == receipt.external_id]
    latest = {d.external_ref: d for d in mine}
    kinds = {d.type: d for d in latest.values()}
    assert set(kinds) == {
        DocumentType.QUOTE,
        DocumentType.DELIVERY_NOTE,
        DocumentType.INVOICE,
    }
    invoice = kinds[DocumentType.INVOICE]
    assert invoice.external_ref == f"account.invoice,{invoice_id}"
    assert invoice.status is DocumentStatus.ISSUED
    assert invoice.amount is not None
    assert invoice.amount.amount == Decimal("30.30")
    assert invoice.customer_ref == str(tryton_peer.manifest.customers[CUSTKEY].party_id)
    assert invoice.order_id == request.order_id
    assert invoice.due_date is not None
    assert kinds[DocumentType.DELIVERY_NOTE].status is DocumentStatus.ISSUED
    assert kinds[DocumentType.QUOTE].number == receipt.number
    assert again == []


@pytest.mark.tryton
async def test_content_streams_from_tryton_and_survives_a_revoked_key(
    connector: TrytonConnector, tryton_peer: TrytonPeer, backoffice: TrytonRpc
) -> None:
    receipt = await connector.submit_order(
        order_request(tryton_peer, [(82, "1", "99.99")], custkey=CUSTKEY)
    )
    ref = f"sale.sale,{receipt.external_id}"

    first = await connector.open_document(ref)
    body = b"".join([chunk async for chunk in first.chunks])
    await first.aclose()
    keys = await backoffice.model(
        "res.user.application",
        "search",
        [("application", "=", "rest"), ("state", "=", "validated")],
    )
    await backoffice.model("res.user.application", "cancel", keys)
    second = await connector.open_document(ref)
    await second.aclose()

    assert first.media_type == "application/vnd.oasis.opendocument.text"
    assert first.filename.endswith(".odt")
    assert first.size == len(body)
    assert body.startswith(b"PK\x03\x04")
    assert second.media_type == first.media_type
    with pytest.raises(BackendNotFoundError):
        await connector.open_document("account.invoice,999999")
    with pytest.raises(BackendNotFoundError):
        await connector.open_document("res.user,1")


@pytest.mark.tryton
async def test_the_ledger_classifies_invoices_and_payments(
    connector: TrytonConnector, tryton_peer: TrytonPeer, backoffice: TrytonRpc
) -> None:
    custkey = 42
    party = str(tryton_peer.manifest.customers[custkey].party_id)
    receipt = await connector.submit_order(
        order_request(tryton_peer, [(83, "2", "50.00")], custkey=custkey)
    )
    await ship_sale(backoffice, int(receipt.external_id))
    [invoice_id] = await post_invoices(backoffice, int(receipt.external_id))
    today = dt.date.today()
    await pay_invoice(backoffice, invoice_id, Decimal("40.00"), today)

    ledger = await connector.customer_ledger(party, today, today)
    tomorrow = await connector.customer_ledger(
        party, today + dt.timedelta(days=1), today + dt.timedelta(days=1)
    )

    assert ledger.opening_balance.amount == 0
    assert [(e.kind, e.debit, e.credit) for e in ledger.entries] == [
        (LedgerEntryKind.INVOICE, Decimal("100.00"), Decimal(0)),
        (LedgerEntryKind.PAYMENT, Decimal(0), Decimal("40.00")),
    ]
    assert ledger.entries[0].document_ref == f"account.invoice,{invoice_id}"
    assert tomorrow.opening_balance.amount == Decimal("60.00")
    assert tomorrow.entries == ()
    with pytest.raises(BackendRejectedError):
        await connector.customer_ledger("not-an-id", today, today)
