"""A status change made in Tryton reaches Kafka, the feed and the stream."""

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.tryton.rpc import TrytonRpc
from gateway.events.relay import KafkaRelay
from gateway.events.sequencer import Sequencer
from gateway.orders.submission import OrderSubmitter
from gateway.orders.sync import OrderSync
from gateway.peers.kafka import KafkaPeer
from gateway.peers.tpch import TpchData
from gateway.peers.tryton import TrytonPeer
from gateway.peers.tryton_ops import ship_sale
from gateway.settings import KafkaSettings, Settings
from tests.gateway.orders.conftest import order_body, place
from tests.peers.kafka_fixtures import read_all
from tests.support.live_server import live_server
from tests.support.tryton_gateway import tpch_caller

pytestmark = pytest.mark.tryton


async def test_a_shipment_in_tryton_reaches_a_plain_consumer_the_feed_and_the_stream(
    tryton_app: FastAPI,
    tryton_client: httpx.AsyncClient,
    tryton_peer: TrytonPeer,
    kafka_peer: KafkaPeer,
    sessions: async_sessionmaker[AsyncSession],
    tpch: TpchData,
    settings: Settings,
) -> None:
    caller = await tpch_caller(sessions, tpch, tryton_peer, custkey=21)
    erp = tryton_app.state.backends.erp
    submitter = OrderSubmitter(sessions, erp, "erp", settings.worker)
    sync = OrderSync(sessions, erp, "erp", batch=200)
    sequencer = Sequencer(sessions)
    prefix = "e2e."
    relay = KafkaRelay(
        sessions,
        KafkaSettings(
            bootstrap_servers=kafka_peer.bootstrap_servers, topic_prefix=prefix
        ),
    )
    sku = tryton_peer.manifest.parts[41].code
    order_id = (await place(tryton_client, caller, order_body((sku, 1)))).json()["id"]
    await submitter.run_once()
    await sync.run_once()
    async with httpx.AsyncClient(base_url=tryton_peer.url, timeout=30) as http:
        rpc = TrytonRpc(
            http,
            tryton_peer.database,
            tryton_peer.admin_login,
            tryton_peer.admin_password,
        )
        [sale] = await rpc.model(
            "sale.sale", "search", [("reference", "=", order_id)], 0, 1, None
        )
        await ship_sale(rpc, sale)

    await sync.run_once()
    await sequencer.run_until_idle()
    try:
        while await relay.run_once():
            pass
    finally:
        await relay.close()
    records = await read_all(
        kafka_peer.bootstrap_servers, f"{prefix}orders", timeout=10
    )
    feed = (
        await tryton_client.get(
            "/v1/events?types=order.status_changed", headers=caller.headers
        )
    ).json()["events"]

    shipped = [
        record
        for record in records
        if record.key == order_id.encode()
        and orjson.loads(record.value)["status"] == "shipped"
    ]
    assert len(shipped) == 1, "published once"
    headers = dict(shipped[0].headers)
    event_id = headers["ce_id"].decode()
    assert headers["ce_type"] == b"order.status_changed"
    in_feed = [event for event in feed if event["id"] == event_id]
    assert len(in_feed) == 1
    assert in_feed[0]["data"]["status"] == "shipped"
    position = int(in_feed[0]["sequence"])

    async with (
        live_server(tryton_app) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=10) as http,
        http.stream(
            "GET",
            f"/v1/events/stream?after={position - 1}",
            headers=caller.headers,
        ) as stream,
    ):
        data_line = None
        async for line in stream.aiter_lines():
            if line.startswith("data:"):
                data_line = line
                break
    assert data_line is not None
    assert orjson.loads(data_line.removeprefix("data:").strip())["id"] == event_id
