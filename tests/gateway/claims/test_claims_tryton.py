"""Claims through a real Tryton: a claim filed through the API becomes a
complaint on the right sale, and the decisions staff take in Tryton (and
what they write there) move the Portico claim."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.tryton.rpc import TrytonRpc
from gateway.claims.settings import ClaimsSettings
from gateway.claims.sync import ClaimSync
from gateway.claims.tasks import ClaimErpWorker
from gateway.orders.submission import OrderSubmitter
from gateway.peers.tpch import TpchData
from gateway.peers.tryton import TrytonPeer
from gateway.peers.tryton_ops import ship_sale
from gateway.peers.wiring import ERP_NAME, with_tryton
from gateway.settings import Settings
from tests.gateway.claims.conftest import claim_body, file_claim
from tests.gateway.documents.harness import client_of, portico_app
from tests.gateway.orders.conftest import order_body, place
from tests.support.tryton_gateway import tpch_caller

pytestmark = pytest.mark.tryton


@asynccontextmanager
async def tryton_gateway(
    settings: Settings, peer: TrytonPeer
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    bound = with_tryton(
        settings,
        peer,
        deadline_seconds=30.0,
        complaint_type_id=peer.manifest.complaint_type_id,
    )
    async with portico_app(bound) as application, client_of(application) as client:
        yield application, client


@asynccontextmanager
async def backoffice(peer: TrytonPeer) -> AsyncIterator[TrytonRpc]:
    async with httpx.AsyncClient(base_url=peer.url, timeout=60) as http:
        rpc = TrytonRpc(http, peer.database, peer.admin_login, peer.admin_password)
        await rpc.login()
        yield rpc


async def complaints_for(rpc: TrytonRpc, claim_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await rpc.model(
        "sale.complaint",
        "search_read",
        [("reference", "=", claim_id)],
        0,
        None,
        None,
        ["origin", "customer", "type", "state", "number", "description", "actions"],
    )
    return found


async def test_a_claim_becomes_a_tryton_complaint_and_staff_decide_it_there(
    tryton_peer: TrytonPeer,
    sessions: async_sessionmaker[AsyncSession],
    tpch: TpchData,
    settings: Settings,
) -> None:
    parts = tryton_peer.manifest.parts
    party_id = tryton_peer.manifest.customers[34].party_id
    async with (
        tryton_gateway(settings, tryton_peer) as (app, api),
        backoffice(tryton_peer) as rpc,
    ):
        erp = app.state.backends.erp
        caller = await tpch_caller(sessions, tpch, tryton_peer, custkey=34)
        tasks = ClaimErpWorker(sessions, erp, ERP_NAME, ClaimsSettings())
        sync = ClaimSync(sessions, erp, ERP_NAME, batch=200)
        placed = (
            await place(
                api, caller, order_body((parts[61].code, 4), (parts[62].code, 1))
            )
        ).json()
        await OrderSubmitter(sessions, erp, ERP_NAME, settings.worker).run_once()
        [sale_id] = await rpc.model(
            "sale.sale", "search", [("reference", "=", placed["id"])], 0, None
        )
        await ship_sale(rpc, int(sale_id))

        too_many = await file_claim(
            api, caller, claim_body(placed["id"], (1, 5), type="return")
        )
        returned = (
            await file_claim(
                api, caller, claim_body(placed["id"], (1, 3), type="return")
            )
        ).json()
        complaint = (
            await file_claim(api, caller, claim_body(placed["id"], (2, 1)))
        ).json()
        await tasks.run_once()
        [for_return] = await complaints_for(rpc, returned["id"])
        [for_complaint] = await complaints_for(rpc, complaint["id"])
        in_review = (
            await api.get(f"/v1/claims/{returned['id']}", headers=caller.headers)
        ).json()

        await rpc.model(
            "ir.chat.channel",
            "post",
            f"sale.complaint,{for_return['id']}",
            "We will take the parts back.",
            "public",
        )
        await rpc.model("sale.complaint", "approve", [for_return["id"]])
        await rpc.model("sale.complaint", "reject", [for_complaint["id"]])
        while await sync.run_once():
            pass
        resolved = (
            await api.get(f"/v1/claims/{returned['id']}", headers=caller.headers)
        ).json()
        rejected = (
            await api.get(f"/v1/claims/{complaint['id']}", headers=caller.headers)
        ).json()
        (decided,) = await rpc.model(
            "sale.complaint", "read", [for_return["id"]], ["state", "actions.result"]
        )

    assert too_many.status_code == 422
    assert "at most 4 of order line 1" in too_many.json()["detail"]
    assert for_return["origin"] == f"sale.sale,{sale_id}"
    assert for_return["customer"] == party_id
    assert for_return["type"] == tryton_peer.manifest.complaint_type_id
    assert for_return["state"] == "waiting"
    assert returned["id"] in for_return["description"]
    assert for_return["actions"]  # a return claim asks Tryton for a sale return
    assert for_complaint["origin"] == f"sale.sale,{sale_id}"
    assert in_review["status"] == "in_review"
    assert in_review["erp_number"] == for_return["number"]
    assert decided["state"] == "done"
    assert decided["actions."][0]["result"].startswith("sale.sale,")
    assert resolved["status"] == "resolved"
    assert [step["status"] for step in resolved["timeline"]] == [
        "submitted",
        "in_review",
        "approved",
        "resolved",
    ]
    assert [(c["side"], c["body"]) for c in resolved["comments"]] == [
        ("supplier", "We will take the parts back.")
    ]
    assert resolved["sla"]["first_answer_breached"] is False
    assert rejected["status"] == "rejected"
    assert rejected["sla"]["settled_at"] is not None


async def test_the_customers_comment_and_withdrawal_reach_tryton(
    tryton_peer: TrytonPeer,
    sessions: async_sessionmaker[AsyncSession],
    tpch: TpchData,
    settings: Settings,
) -> None:
    parts = tryton_peer.manifest.parts
    async with (
        tryton_gateway(settings, tryton_peer) as (app, api),
        backoffice(tryton_peer) as rpc,
    ):
        erp = app.state.backends.erp
        caller = await tpch_caller(sessions, tpch, tryton_peer, custkey=35)
        tasks = ClaimErpWorker(sessions, erp, ERP_NAME, ClaimsSettings())
        sync = ClaimSync(sessions, erp, ERP_NAME, batch=200)
        placed = (await place(api, caller, order_body((parts[71].code, 2)))).json()
        await OrderSubmitter(sessions, erp, ERP_NAME, settings.worker).run_once()
        claim = (await file_claim(api, caller, claim_body(placed["id"], (1, 2)))).json()
        await tasks.run_once()
        [complaint] = await complaints_for(rpc, claim["id"])
        # Staff send it back for more information; the customer answers.
        await rpc.model("sale.complaint", "draft", [complaint["id"]])
        while await sync.run_once():
            pass
        asked = (
            await api.get(f"/v1/claims/{claim['id']}", headers=caller.headers)
        ).json()
        await api.post(
            f"/v1/claims/{claim['id']}/comments",
            json={"body": "Both arrived cracked.", "author": "Jan"},
            headers=caller.headers,
        )
        while await tasks.run_once():
            pass
        messages = await rpc.model(
            "ir.chat.channel", "get", f"sale.complaint,{complaint['id']}"
        )
        (resumed,) = await rpc.model(
            "sale.complaint", "read", [complaint["id"]], ["state"]
        )
        await api.post(f"/v1/claims/{claim['id']}/withdraw", headers=caller.headers)
        while await tasks.run_once():
            pass
        while await sync.run_once():
            pass
        (cancelled,) = await rpc.model(
            "sale.complaint", "read", [complaint["id"]], ["state"]
        )
        final = (
            await api.get(f"/v1/claims/{claim['id']}", headers=caller.headers)
        ).json()

    assert asked["status"] == "awaiting_customer"
    assert [message["content"] for message in messages] == [
        "[Portico] Jan: Both arrived cracked."
    ]
    assert resumed["state"] == "waiting"
    assert cancelled["state"] == "cancelled"
    assert final["status"] == "withdrawn"
    assert [c["side"] for c in final["comments"]] == ["account"]
    assert uuid.UUID(final["id"])
