"""Documents through a real Tryton: an invoice posted there reaches its
account's index (and no other's) and downloads as Tryton renders it; the
reconciliation statement of a TPC-H account balances to the cent."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.tryton.rpc import TrytonRpc
from gateway.documents.sync import DocumentSync
from gateway.orders.submission import OrderSubmitter
from gateway.peers.tpch import TpchData
from gateway.peers.tryton import TrytonPeer
from gateway.peers.tryton_ops import post_invoices, ship_sale
from gateway.peers.wiring import ERP_NAME, with_tryton
from gateway.settings import Settings
from tests.gateway.documents.backoffice import (
    credit_invoice,
    pay_invoice,
    post_invoice_on,
)
from tests.gateway.documents.harness import client_of, portico_app
from tests.gateway.orders.conftest import order_body, place
from tests.support.factories import Caller
from tests.support.tryton_gateway import tpch_caller

pytestmark = pytest.mark.tryton


@asynccontextmanager
async def tryton_gateway(
    settings: Settings, peer: TrytonPeer
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    # SQLite-backed Tryton takes a while over a whole feed page.
    bound = with_tryton(settings, peer, deadline_seconds=60.0, retry_attempts=2)
    async with portico_app(bound) as application, client_of(application) as client:
        yield application, client


@asynccontextmanager
async def backoffice(peer: TrytonPeer) -> AsyncIterator[TrytonRpc]:
    async with httpx.AsyncClient(base_url=peer.url, timeout=60) as http:
        rpc = TrytonRpc(http, peer.database, peer.admin_login, peer.admin_password)
        await rpc.login()
        yield rpc


async def index_everything(
    application: FastAPI, sessions: async_sessionmaker[AsyncSession]
) -> None:
    sync = DocumentSync(sessions, application.state.backends.erp, ERP_NAME, batch=500)
    while await sync.run_once():
        pass


async def delivered_sale(
    application: FastAPI,
    api: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    rpc: TrytonRpc,
    caller: Caller,
    lines: list[tuple[str, int]],
) -> tuple[str, int]:
    """An order placed through Portico, taken by Tryton and shipped; returns
    Portico's order id and the Tryton sale id."""
    placed = (await place(api, caller, order_body(*lines))).json()
    erp = application.state.backends.erp
    await OrderSubmitter(sessions, erp, ERP_NAME, Settings().worker).run_once()
    [sale_id] = await rpc.model(
        "sale.sale", "search", [("reference", "=", placed["id"])], 0, None
    )
    await ship_sale(rpc, int(sale_id))
    return str(placed["id"]), int(sale_id)


async def draft_invoice(rpc: TrytonRpc, sale_id: int) -> int:
    (sale,) = await rpc.model("sale.sale", "read", [sale_id], ["invoices"])
    [invoice_id] = sale["invoices"]
    return int(invoice_id)


async def test_an_invoice_posted_in_tryton_reaches_its_account_only_and_downloads(
    tryton_peer: TrytonPeer,
    sessions: async_sessionmaker[AsyncSession],
    tpch: TpchData,
    settings: Settings,
) -> None:
    parts = tryton_peer.manifest.parts
    async with tryton_gateway(settings, tryton_peer) as (app, api):
        caller = await tpch_caller(sessions, tpch, tryton_peer, custkey=31)
        other = await tpch_caller(sessions, tpch, tryton_peer, custkey=32)
        async with backoffice(tryton_peer) as rpc:
            order_id, sale_id = await delivered_sale(
                app, api, sessions, rpc, caller, [(parts[41].code, 2)]
            )
            [invoice_id] = await post_invoices(rpc, sale_id)
            (invoice,) = await rpc.model(
                "account.invoice", "read", [invoice_id], ["number", "total_amount"]
            )
        await index_everything(app, sessions)
        mine = await api.get(
            "/v1/documents",
            params={"order_id": order_id, "sort": "number"},
            headers=caller.headers,
        )
        theirs = await api.get(
            "/v1/documents", params={"number": invoice["number"]}, headers=other.headers
        )
        by_type = {item["type"]: item for item in mine.json()["items"]}
        content = await api.get(
            by_type["invoice"]["content_url"], headers=caller.headers
        )
        forbidden = await api.get(
            by_type["invoice"]["content_url"], headers=other.headers
        )

    assert mine.status_code == 200, mine.text
    assert set(by_type) == {"invoice", "delivery_note", "quote"}
    assert by_type["invoice"]["number"] == invoice["number"]
    assert by_type["invoice"]["status"] == "issued"
    assert by_type["invoice"]["external_ref"] == f"account.invoice,{invoice_id}"
    assert Decimal(by_type["invoice"]["amount"]["amount"]) == invoice["total_amount"]
    assert by_type["invoice"]["due_date"] is not None
    assert by_type["delivery_note"]["status"] == "issued"
    assert theirs.json()["items"] == []
    assert content.status_code == 200
    assert content.headers["content-type"] == "application/vnd.oasis.opendocument.text"
    assert content.content.startswith(b"PK\x03\x04")
    assert b"mimetypeapplication/vnd.oasis.opendocument.text" in content.content[:100]
    assert invoice["number"] in content.headers["content-disposition"]
    assert content.headers["etag"].startswith('W/"')
    assert forbidden.status_code == 404


async def test_the_statement_of_a_tpch_account_balances_to_the_cent(
    tryton_peer: TrytonPeer,
    sessions: async_sessionmaker[AsyncSession],
    tpch: TpchData,
    settings: Settings,
) -> None:
    parts = tryton_peer.manifest.parts
    today = dt.date.today()
    yesterday = today - dt.timedelta(days=1)
    async with tryton_gateway(settings, tryton_peer) as (app, api):
        caller = await tpch_caller(sessions, tpch, tryton_peer, custkey=33)
        async with backoffice(tryton_peer) as rpc:
            sales = [
                (
                    await delivered_sale(
                        app, api, sessions, rpc, caller, [(parts[key].code, quantity)]
                    )
                )[1]
                for key, quantity in ((51, 3), (52, 2), (53, 7))
            ]
            earlier, credited, open_one = [
                await draft_invoice(rpc, sale) for sale in sales
            ]
            for invoice_id in (earlier, credited, open_one):
                await post_invoice_on(rpc, invoice_id, today)
            totals = {
                row["id"]: Decimal(row["total_amount"])
                for row in await rpc.model(
                    "account.invoice",
                    "read",
                    [earlier, credited, open_one],
                    ["total_amount"],
                )
            }
            # Strict invoice sequences forbid back-dated invoices, so the
            # balance before the period is an advance paid the day before.
            advance = totals[earlier]
            await pay_invoice(rpc, earlier, advance, yesterday)
            partial = (totals[open_one] / 3).quantize(Decimal("0.01"))
            await pay_invoice(rpc, open_one, partial, today)
            credit_note = await credit_invoice(rpc, credited, today)
            ledger_total = await receivable_balance(rpc, caller_party(tryton_peer, 33))
        await index_everything(app, sessions)
        response = await api.get(
            "/v1/documents/reconciliation",
            params={"from": today.isoformat(), "to": today.isoformat()},
            headers=caller.headers,
        )
        as_csv = await api.get(
            "/v1/documents/reconciliation",
            params={
                "from": today.isoformat(),
                "to": today.isoformat(),
                "format": "csv",
            },
            headers=caller.headers,
        )

    assert response.status_code == 200, response.text
    statement = response.json()

    def money(value: dict[str, Any]) -> Decimal:
        return Decimal(value["amount"])

    opening = money(statement["opening_balance"])
    invoices = money(statement["totals"]["invoices"])
    credit_notes = money(statement["totals"]["credit_notes"])
    payments = money(statement["totals"]["payments"])
    closing = money(statement["closing_balance"])
    assert opening + invoices - credit_notes - payments == closing
    assert money(statement["totals"]["adjustments"]) == 0
    # The figures are the ones booked in Tryton, to the cent.
    assert opening == -advance
    assert invoices == totals[earlier] + totals[credited] + totals[open_one]
    assert credit_notes == totals[credited]
    assert payments == partial
    assert closing == totals[open_one] - partial
    # An independent reading of Tryton's ledger agrees.
    assert closing == ledger_total
    kinds = [
        (line["kind"], line["document_id"] is not None) for line in statement["lines"]
    ]
    assert sorted(kinds) == [
        ("credit_note", True),
        ("invoice", True),
        ("invoice", True),
        ("invoice", True),
        ("payment", False),
    ]
    assert any(
        line["reference"]
        for line in statement["lines"]
        if line["kind"] == "credit_note"
    )
    assert credit_note > 0
    assert as_csv.text.splitlines()[-1].split(",")[6] == f"{closing:.2f}"


def caller_party(peer: TrytonPeer, custkey: int) -> int:
    return peer.manifest.customers[custkey].party_id


async def receivable_balance(rpc: TrytonRpc, party_id: int) -> Decimal:
    """What the party owes by Tryton's own receivable lines (an oracle)."""
    lines = await rpc.model(
        "account.move.line",
        "search_read",
        [
            ("party", "=", party_id),
            ("account.type.receivable", "=", True),
            ("move.state", "=", "posted"),
        ],
        0,
        None,
        None,
        ["debit", "credit"],
    )
    return sum(
        (Decimal(line["debit"]) - Decimal(line["credit"]) for line in lines),
        Decimal(0),
    )
