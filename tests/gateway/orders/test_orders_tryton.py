"""Orders through a real Tryton: submission, shipment, invoice, ERP outage."""

from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.tryton.rpc import TrytonRpc
from gateway.api.app import create_app
from gateway.backends import build_backends
from gateway.orders.submission import OrderSubmitter
from gateway.orders.sync import OrderSync
from gateway.peers.tpch import TpchData
from gateway.peers.tryton import TrytonPeer
from gateway.peers.tryton_ops import post_invoices, sale_state, ship_sale
from gateway.settings import Settings
from tests.gateway.orders.conftest import order_body, place
from tests.peers.fixtures import TEST_SCALE, peer_cache_dir
from tests.support.tryton_gateway import tpch_caller, tryton_settings

pytestmark = pytest.mark.tryton


async def admin_rpc(peer: TrytonPeer, http: httpx.AsyncClient) -> TrytonRpc:
    rpc = TrytonRpc(http, peer.database, peer.admin_login, peer.admin_password)
    await rpc.login()
    return rpc


async def sales_for(rpc: TrytonRpc, order_id: str) -> list[dict[str, object]]:
    found: list[dict[str, object]] = await rpc.model(
        "sale.sale",
        "search_read",
        [("reference", "=", order_id)],
        0,
        None,
        None,
        ["number", "state", "reference"],
    )
    return found


def worker_for(
    app: FastAPI, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> tuple[OrderSubmitter, OrderSync]:
    backends = app.state.backends
    return (
        OrderSubmitter(sessions, backends.erp, backends.erp_name, settings.worker),
        OrderSync(sessions, backends.erp, backends.erp_name, batch=200),
    )


async def test_an_order_goes_to_tryton_and_comes_back_shipped_and_invoiced(
    tryton_app: FastAPI,
    tryton_client: httpx.AsyncClient,
    tryton_peer: TrytonPeer,
    sessions: async_sessionmaker[AsyncSession],
    tpch: TpchData,
    settings: Settings,
) -> None:
    caller = await tpch_caller(sessions, tpch, tryton_peer, custkey=11)
    parts = tryton_peer.manifest.parts
    submitter, sync = worker_for(tryton_app, sessions, settings)
    body = order_body(
        (parts[21].code, 3), (parts[22].code, 1), customer_reference="PO-1"
    )
    placed = await place(tryton_client, caller, body)
    order_id = placed.json()["id"]

    await submitter.run_once()
    async with httpx.AsyncClient(base_url=tryton_peer.url, timeout=30) as http:
        rpc = await admin_rpc(tryton_peer, http)
        [sale] = await sales_for(rpc, order_id)
        after_submit = await tryton_client.get(
            f"/v1/orders/{order_id}", headers=caller.headers
        )
        await sync.run_once()
        await ship_sale(rpc, int(str(sale["id"])))
        await sync.run_once()
        shipped = await tryton_client.get(
            f"/v1/orders/{order_id}", headers=caller.headers
        )
        await post_invoices(rpc, int(str(sale["id"])))
        await sync.run_once()
        state = await sale_state(rpc, int(str(sale["id"])))
    invoiced = (
        await tryton_client.get(f"/v1/orders/{order_id}", headers=caller.headers)
    ).json()

    assert placed.status_code == 201
    assert (
        Decimal(placed.json()["lines"][0]["unit_price"]["amount"])
        == parts[21].list_price
    )
    assert sale["state"] == "processing"
    assert after_submit.json()["status"] == "accepted"
    assert after_submit.json()["erp_number"] == sale["number"]
    assert shipped.json()["status"] == "shipped"
    assert state["invoice_state"] in {"awaiting payment", "paid"}
    assert invoiced["status"] == "invoiced"
    assert [step["status"] for step in invoiced["timeline"]] == [
        "submitted",
        "accepted",
        "shipped",
        "invoiced",
    ]


async def test_with_tryton_stopped_orders_wait_and_reach_it_once_each(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    tpch: TpchData,
) -> None:
    peer = TrytonPeer(peer_cache_dir(), scale=TEST_SCALE)
    peer.start()
    try:
        caller = await tpch_caller(sessions, tpch, peer, custkey=5)
        skus = [peer.manifest.parts[key].code for key in (31, 32, 33)]
        app = create_app(tryton_settings(settings, peer))
        peer.stop()
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://t"
            ) as client:
                placed = [
                    (await place(client, caller, order_body((sku, 2)))).json()
                    for sku in skus
                ]
                while_down = OrderSubmitter(
                    sessions, app.state.backends.erp, "erp", settings.worker
                )
                await while_down.run_once()
                waiting = [
                    (
                        await client.get(
                            f"/v1/orders/{o['id']}", headers=caller.headers
                        )
                    ).json()
                    for o in placed
                ]

        peer.start()  # back, at a new address: the worker is configured anew
        backends = build_backends(tryton_settings(settings, peer))
        try:
            assert backends.erp is not None
            back = OrderSubmitter(
                sessions,
                backends.erp,
                "erp",
                settings.worker.model_copy(update={"retry_base_seconds": 0.01}),
            )
            await _force_due(sessions)
            await back.run_once()
            await _force_due(sessions)
            await back.run_once()
        finally:
            await backends.aclose()
        async with httpx.AsyncClient(base_url=peer.url, timeout=30) as http:
            rpc = await admin_rpc(peer, http)
            sales = [await sales_for(rpc, order["id"]) for order in placed]
    finally:
        peer.stop()

    assert all(order["status"] == "submitted" for order in placed)
    assert all(order["priced"] is False for order in placed)
    assert [order["status"] for order in waiting] == ["submitted"] * 3
    assert [len(found) for found in sales] == [1, 1, 1]
    assert all(found[0]["state"] == "processing" for found in sales)


async def _force_due(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Make waiting orders due now instead of after their backoff."""
    async with sessions() as session, session.begin():
        await session.execute(
            text("UPDATE orders SET next_attempt_at = now() WHERE status = 'submitted'")
        )
