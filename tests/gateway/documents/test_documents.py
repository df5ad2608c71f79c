"""The documents index and its API, behind the in-memory ERP twin: sync,
filters, cursors (C10), downloads (C06, C10), exports and the statement."""

from __future__ import annotations

import csv
import io
import uuid
import zipfile
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

import httpx
import openpyxl
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.accounts.scopes import Scope
from domain.documents.erp import LedgerEntry, LedgerEntryKind
from domain.documents.model import DocumentStatus, DocumentType
from gateway.db.tables import OutboxRow
from gateway.documents.sync import DocumentSync
from gateway.orders.submission import OrderSubmitter
from gateway.settings import WorkerSettings
from tests.gateway.documents.conftest import erp_document
from tests.gateway.orders.conftest import linked_caller, order_body, place
from tests.gateway.orders.test_placement import TIMESTAMPS_FOR_A_DATE
from tests.support.backends import InMemoryErp
from tests.support.factories import Caller, make_caller

PDF = b"%PDF-1.7\n" + b"0" * 5000 + b"\n%%EOF\n"


async def two_dealers(
    sessions: async_sessionmaker[AsyncSession],
) -> tuple[Caller, Caller]:
    first = await linked_caller(sessions, customer_ref="CUST-1", name="First GmbH")
    second = await linked_caller(sessions, customer_ref="CUST-2", name="Second AG")
    return first, second


async def event_types(
    sessions: async_sessionmaker[AsyncSession], subject: str
) -> list[str]:
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxRow.type)
            .where(OutboxRow.subject == subject)
            .order_by(OutboxRow.id)
        )
        return list(rows)


async def test_the_sync_files_documents_under_the_linked_account_only(
    api: httpx.AsyncClient,
    erp: InMemoryErp,
    sync: DocumentSync,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first, second = await two_dealers(sessions)
    erp.documents += [
        erp_document("account.invoice,1", "CUST-1"),
        erp_document("account.invoice,2", "CUST-2"),
        erp_document("account.invoice,3", "NOBODY"),
    ]

    applied = await sync.run_once()
    mine = (await api.get("/v1/documents", headers=first.headers)).json()
    theirs = (await api.get("/v1/documents", headers=second.headers)).json()

    assert applied == 3
    assert [item["external_ref"] for item in mine["items"]] == ["account.invoice,1"]
    assert [item["external_ref"] for item in theirs["items"]] == ["account.invoice,2"]
    document = mine["items"][0]
    assert document["amount"] == {"amount": "100.00", "currency": "USD"}
    assert document["status"] == "issued"
    assert await event_types(sessions, document["id"]) == ["document.issued"]


async def test_a_change_in_the_erp_updates_the_one_row_and_says_so(
    api: httpx.AsyncClient,
    erp: InMemoryErp,
    sync: DocumentSync,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first, _ = await two_dealers(sessions)
    erp.documents.append(erp_document("account.invoice,7", "CUST-1"))
    await sync.run_once()
    erp.documents.append(
        erp_document("account.invoice,7", "CUST-1", status=DocumentStatus.PAID)
    )
    erp.documents.append(
        erp_document("account.invoice,7", "CUST-1", status=DocumentStatus.PAID)
    )

    await sync.run_once()
    listing = (await api.get("/v1/documents", headers=first.headers)).json()

    [document] = listing["items"]
    assert document["status"] == "paid"
    assert await event_types(sessions, document["id"]) == [
        "document.issued",
        "document.updated",
    ]


async def test_documents_link_to_the_accounts_own_order(
    api: httpx.AsyncClient,
    erp: InMemoryErp,
    sync: DocumentSync,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first, second = await two_dealers(sessions)
    placed = (await place(api, first, order_body(("P1", 2)))).json()
    await OrderSubmitter(sessions, erp, "erp", WorkerSettings()).run_once()
    [external_id] = erp.orders
    erp.documents += [
        erp_document("account.invoice,1", "CUST-1", order_external_id=external_id),
        # Another customer's document naming that order gets no link to it.
        erp_document("account.invoice,2", "CUST-2", order_external_id=external_id),
    ]

    await sync.run_once()
    mine = await api.get(
        "/v1/documents", params={"order_id": placed["id"]}, headers=first.headers
    )
    theirs = (await api.get("/v1/documents", headers=second.headers)).json()

    assert [item["external_ref"] for item in mine.json()["items"]] == [
        "account.invoice,1"
    ]
    assert mine.json()["items"][0]["order_id"] == placed["id"]
    assert theirs["items"][0]["order_id"] is None


async def test_filters_by_type_date_number_and_amount(
    api: httpx.AsyncClient,
    erp: InMemoryErp,
    sync: DocumentSync,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first, _ = await two_dealers(sessions)
    erp.documents += [
        erp_document("a,1", "CUST-1", number="INV-001", issued=date(2026, 10, 30)),
        erp_document("a,2", "CUST-1", number="INV-002", issued=date(2026, 11, 1)),
        erp_document(
            "a,3",
            "CUST-1",
            number="CN-001",
            type=DocumentType.CREDIT_NOTE,
            issued=date(2026, 11, 15),
            amount="20.00",
        ),
        erp_document(
            "a,4",
            "CUST-1",
            number="DN-1",
            type=DocumentType.DELIVERY_NOTE,
            issued=date(2026, 11, 30),
            amount=None,
        ),
    ]
    await sync.run_once()

    async def numbers(**params: Any) -> list[str]:
        response = await api.get("/v1/documents", params=params, headers=first.headers)
        assert response.status_code == 200, response.text
        return [item["number"] for item in response.json()["items"]]

    assert await numbers(type="credit_note") == ["CN-001"]
    assert await numbers(type=["invoice", "delivery_note"], sort="issue_date") == [
        "INV-001",
        "INV-002",
        "DN-1",
    ]
    assert await numbers(issued_from="2026-11-01", issued_to="2026-11-15") == [
        "CN-001",
        "INV-002",
    ]
    assert await numbers(number="inv-00", sort="number") == ["INV-001", "INV-002"]
    assert await numbers(amount_min="50", amount_max="100.00", sort="-number") == [
        "INV-002",
        "INV-001",
    ]
    bad = await api.get(
        "/v1/documents", params={"amount_min": "1E+5"}, headers=first.headers
    )
    assert bad.status_code == 422


@pytest.mark.parametrize(
    "sort", ["issue_date", "-issue_date", "amount", "-amount", "number", "-number"]
)
async def test_cursor_pages_see_every_document_once(
    api: httpx.AsyncClient,
    erp: InMemoryErp,
    sync: DocumentSync,
    sessions: async_sessionmaker[AsyncSession],
    sort: str,
) -> None:
    first, _ = await two_dealers(sessions)
    # Ties on every sort key, and missing amounts.
    erp.documents += [
        erp_document(
            f"a,{index}",
            "CUST-1",
            number="SAME" if index % 2 else f"N{index}",
            amount=None if index == 3 else "10.00",
        )
        for index in range(7)
    ]
    await sync.run_once()

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, "sort": sort}
        if cursor:
            params["cursor"] = cursor
        page = (
            await api.get("/v1/documents", params=params, headers=first.headers)
        ).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert len(seen) == 7
    assert len(set(seen)) == 7


async def test_c10_anothers_document_and_cursor_are_not_found(
    api: httpx.AsyncClient,
    erp: InMemoryErp,
    sync: DocumentSync,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first, second = await two_dealers(sessions)
    erp.documents += [erp_document(f"a,{i}", "CUST-2") for i in range(3)]
    erp.renderings["a,0"] = ("application/pdf", "secret.pdf", PDF)
    await sync.run_once()
    theirs = (
        await api.get("/v1/documents", params={"limit": 1}, headers=second.headers)
    ).json()
    document_id = theirs["items"][0]["id"]

    read = await api.get(f"/v1/documents/{document_id}", headers=first.headers)
    content = await api.get(
        f"/v1/documents/{document_id}/content", headers=first.headers
    )
    cursor = await api.get(
        "/v1/documents",
        params={"cursor": theirs["next_cursor"], "limit": 1},
        headers=first.headers,
    )
    forged = await api.get(
        "/v1/documents",
        params={"cursor": "eyJmb3JnZWQiOnRydWV9"},
        headers=first.headers,
    )

    assert read.status_code == 404
    assert content.status_code == 404
    assert "open_document" not in erp.calls
    assert cursor.status_code == 422
    assert cursor.json()["errors"][0]["location"] == "cursor"
    assert forged.status_code == 422


@pytest.mark.parametrize(
    ("name", "fallback", "exact"),
    [
        ("Счёт-фактура №12.pdf", "No12.pdf", "Счёт-фактура №12.pdf"),
        ('a"b\r\nc.pdf', "a_bc.pdf", 'a"bc.pdf'),
    ],
)
async def test_c06_download_names_are_safe_and_exact(
    api: httpx.AsyncClient,
    erp: InMemoryErp,
    sync: DocumentSync,
    sessions: async_sessionmaker[AsyncSession],
    name: str,
    fallback: str,
    exact: str,
) -> None:
    first, _ = await two_dealers(sessions)
    erp.documents.append(erp_document("account.invoice,12", "CUST-1"))
    erp.renderings["account.invoice,12"] = ("application/pdf", name, PDF)
    await sync.run_once()
    [document] = (await api.get("/v1/documents", headers=first.headers)).json()["items"]

    response = await api.get(
        f"/v1/documents/{document['id']}/content", headers=first.headers
    )

    assert response.status_code == 200
    assert response.content == PDF
    assert response.headers["content-type"] == "application/pdf"
    disposition = response.headers["content-disposition"]
    assert disposition.isascii()
    assert "\r" not in disposition
    assert "\n" not in disposition
    assert disposition.startswith(f'attachment; filename="{fallback}"; ')
    assert disposition.count('"') == 2
    encoded = disposition.split("filename*=UTF-8''", 1)[1]
    assert unquote(encoded, encoding="utf-8", errors="strict") == exact
    assert erp.closed_renderings == ["account.invoice,12"]


async def test_content_carries_an_etag_and_answers_304_when_unchanged(
    api: httpx.AsyncClient,
    erp: InMemoryErp,
    sync: DocumentSync,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first, _ = await two_dealers(sessions)
    erp.documents.append(erp_document("account.invoice,5", "CUST-1"))
    erp.renderings["account.invoice,5"] = ("application/pdf", "i.pdf", PDF)
    await sync.run_once()
    [document] = (await api.get("/v1/documents", headers=first.headers)).json()["items"]
    url = f"/v1/documents/{document['id']}/content"

    first_download = await api.get(url, headers=first.headers)
    etag = first_download.headers["etag"]
    again = await api.get(url, headers={**first.headers, "If-None-Match": etag})
    erp.documents.append(
        erp_document("account.invoice,5", "CUST-1", status=DocumentStatus.PAID)
    )
    await sync.run_once()
    after_change = await api.get(url, headers={**first.headers, "If-None-Match": etag})

    assert first_download.status_code == 200
    assert again.status_code == 304
    assert erp.calls.count("open_document") == 2
    assert after_change.status_code == 200
    assert after_change.headers["etag"] != etag


async def test_export_as_csv_and_xlsx(
    api: httpx.AsyncClient,
    erp: InMemoryErp,
    sync: DocumentSync,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first, _ = await two_dealers(sessions)
    erp.documents += [erp_document(f"a,{i}", "CUST-1", amount="0.10") for i in range(3)]
    erp.documents.append(erp_document("b,1", "CUST-2"))
    await sync.run_once()

    as_csv = await api.get(
        "/v1/documents/export", params={"format": "csv"}, headers=first.headers
    )
    as_xlsx = await api.get(
        "/v1/documents/export", params={"format": "xlsx"}, headers=first.headers
    )

    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [row["amount"] for row in rows] == ["0.10", "0.10", "0.10"]
    assert {row["external_ref"] for row in rows} == {"a,0", "a,1", "a,2"}
    assert as_xlsx.status_code == 200
    assert zipfile.ZipFile(io.BytesIO(as_xlsx.content)).testzip() is None


def entry(
    day: int, kind: LedgerEntryKind, debit: str = "0", credit: str = "0"
) -> LedgerEntry:
    return LedgerEntry(
        date=date(2026, 11, day),
        kind=kind,
        reference=f"{kind.value}-{day}",
        description="",
        debit=Decimal(debit),
        credit=Decimal(credit),
        document_ref="account.invoice,1" if kind is LedgerEntryKind.INVOICE else None,
    )


async def ledger_of_a_week(
    erp: InMemoryErp, sync: DocumentSync, sessions: async_sessionmaker[AsyncSession]
) -> Caller:
    """A dealer whose ledger has one posting before 2026-11-02..08, three in
    it (closing at 200.40) and one after; its invoice is indexed."""
    first, _ = await two_dealers(sessions)
    erp.documents.append(erp_document("account.invoice,1", "CUST-1"))
    await sync.run_once()
    erp.ledgers["CUST-1"] = [
        entry(1, LedgerEntryKind.INVOICE, debit="1000.10"),  # before the period
        entry(3, LedgerEntryKind.INVOICE, debit="250.45"),
        entry(4, LedgerEntryKind.CREDIT_NOTE, credit="50.05"),
        entry(5, LedgerEntryKind.PAYMENT, credit="1000.10"),
        entry(9, LedgerEntryKind.INVOICE, debit="0.10"),  # after the period
    ]
    return first


async def test_the_reconciliation_statement_balances_and_exports(
    api: httpx.AsyncClient,
    erp: InMemoryErp,
    sync: DocumentSync,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first = await ledger_of_a_week(erp, sync, sessions)
    params = {"from": "2026-11-02", "to": "2026-11-08"}

    statement = await api.get(
        "/v1/documents/reconciliation", params=params, headers=first.headers
    )
    as_csv = await api.get(
        "/v1/documents/reconciliation",
        params={**params, "format": "csv"},
        headers=first.headers,
    )
    backwards = await api.get(
        "/v1/documents/reconciliation",
        params={"from": "2026-11-08", "to": "2026-11-02"},
        headers=first.headers,
    )

    body = statement.json()
    assert statement.status_code == 200, statement.text
    assert body["from"] == "2026-11-02"
    assert body["opening_balance"] == {"amount": "1000.10", "currency": "USD"}
    assert body["totals"]["invoices"]["amount"] == "250.45"
    assert body["totals"]["credit_notes"]["amount"] == "50.05"
    assert body["totals"]["payments"]["amount"] == "1000.10"
    assert body["closing_balance"]["amount"] == "200.40"
    assert [line["balance"]["amount"] for line in body["lines"]] == [
        "1250.55",
        "1200.50",
        "200.40",
    ]
    assert body["lines"][0]["document_id"] is not None
    rows = list(csv.reader(io.StringIO(as_csv.text)))
    assert rows[1][1] == "opening_balance"
    assert rows[-1][1] == "closing_balance"
    assert rows[-1][6] == "200.40"
    assert backwards.status_code == 422


def xlsx_rows(content: bytes) -> list[list[str]]:
    """The first worksheet's cells as text, row by row, as a spreadsheet
    program reads them (openpyxl); blank trailing cells are not stored."""
    workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    try:
        sheet = workbook.worksheets[0]
        return [
            trimmed(["" if value is None else str(value) for value in row])
            for row in sheet.iter_rows(values_only=True)
        ]
    finally:
        workbook.close()


def statement_rows(body: dict[str, Any]) -> list[list[str]]:
    """What the JSON statement says, as the export's rows (trailing blanks cut,
    as a spreadsheet does not store them)."""
    currency = body["currency"]
    opening = body["opening_balance"]["amount"]
    closing = body["closing_balance"]["amount"]
    rows = [
        [body["from"], "opening_balance", "", "", "", "", opening, currency, ""],
        *(
            [
                line["date"],
                line["kind"],
                line["reference"],
                line["description"],
                line["debit"]["amount"],
                line["credit"]["amount"],
                line["balance"]["amount"],
                currency,
                line["document_id"] or "",
            ]
            for line in body["lines"]
        ),
        [body["to"], "closing_balance", "", "", "", "", closing, currency, ""],
    ]
    header = [
        "date",
        "kind",
        "reference",
        "description",
        "debit",
        "credit",
        "balance",
        "currency",
        "document_id",
    ]
    return [header, *(trimmed(row) for row in rows)]


def trimmed(row: list[str]) -> list[str]:
    while row and row[-1] == "":
        row = row[:-1]
    return row


async def test_the_reconciliation_statement_exports_as_xlsx_with_the_json_rows(
    api: httpx.AsyncClient,
    erp: InMemoryErp,
    sync: DocumentSync,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first = await ledger_of_a_week(erp, sync, sessions)
    params = {"from": "2026-11-02", "to": "2026-11-08"}

    statement = await api.get(
        "/v1/documents/reconciliation", params=params, headers=first.headers
    )
    as_xlsx = await api.get(
        "/v1/documents/reconciliation",
        params={**params, "format": "xlsx"},
        headers=first.headers,
    )

    assert statement.status_code == 200, statement.text
    assert as_xlsx.status_code == 200, as_xlsx.text
    assert as_xlsx.headers["content-type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert (
        "statement-2026-11-02-2026-11-08.xlsx"
        in (as_xlsx.headers["content-disposition"])
    )
    assert as_xlsx.content.startswith(b"PK\x03\x04"), "an xlsx is a zip archive"
    rows = xlsx_rows(as_xlsx.content)
    assert rows == statement_rows(statement.json())
    assert len(rows) == 1 + 1 + 3 + 1, "header, opening, three postings, closing"
    assert rows[-1][6] == "200.40"


async def test_the_statement_needs_a_linked_account(
    api: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    stranger = await make_caller(sessions, name="Unlinked Ltd")

    response = await api.get("/v1/documents/reconciliation", headers=stranger.headers)

    assert response.status_code == 409
    assert "not linked" in response.json()["detail"]


async def test_documents_need_the_documents_scope(
    api: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    reader = await linked_caller(sessions, scopes=frozenset({Scope.ORDERS_READ}))

    response = await api.get(f"/v1/documents/{uuid.uuid4()}", headers=reader.headers)

    assert response.status_code == 403


@pytest.mark.parametrize("value", TIMESTAMPS_FOR_A_DATE)
@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/v1/documents", "issued_from"),
        ("/v1/documents", "issued_to"),
        ("/v1/documents/export", "issued_from"),
        ("/v1/documents/reconciliation", "from"),
        ("/v1/documents/reconciliation", "to"),
    ],
)
async def test_c04_a_timestamp_in_a_date_filter_is_a_422_never_cut_to_a_date(
    api: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    path: str,
    name: str,
    value: object,
) -> None:
    first, _ = await two_dealers(sessions)

    response = await api.get(path, params={name: str(value)}, headers=first.headers)

    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["location"] == f"query.{name}"
    assert "not a timestamp" in error["message"]


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
async def test_a_statement_at_the_calendar_edge_is_a_422_and_asks_nothing_of_the_erp(
    api: httpx.AsyncClient,
    erp: InMemoryErp,
    sessions: async_sessionmaker[AsyncSession],
    day: str,
) -> None:
    first, _ = await two_dealers(sessions)
    asked = len(erp.calls)

    response = await api.get(
        "/v1/documents/reconciliation",
        params={"from": day, "to": day},
        headers=first.headers,
    )

    assert response.status_code == 422, response.text
    assert len(erp.calls) == asked
