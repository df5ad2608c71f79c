"""When the database drops every connection (as a restart does), the
sequencer, the relay and the live stream recover on their own."""

import asyncio

import asyncpg
import httpx
import orjson
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from gateway.db.engine import plain_url, transaction
from gateway.events.feed import latest_position
from gateway.events.outbox import record_event
from gateway.events.relay import KafkaRelay
from gateway.events.sequencer import Sequencer
from gateway.peers.kafka import KafkaPeer
from gateway.settings import KafkaSettings
from tests.peers.kafka_fixtures import read_all
from tests.support.factories import Caller
from tests.support.live_server import live_server


async def drop_every_connection(engine: AsyncEngine) -> int:
    """Terminate every other session of this database, as a restart would,
    from a connection of its own (the pool's connections are the victims)."""
    connection = await asyncpg.connect(
        plain_url(engine.url.render_as_string(hide_password=False))
    )
    try:
        killed = await connection.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await connection.close()
    return int(killed or 0)


async def emit(
    sessions: async_sessionmaker[AsyncSession], caller: Caller, n: int
) -> None:
    async with transaction(sessions) as session:
        await record_event(
            session,
            event_type="order.status_changed",
            account_id=caller.account.id,
            subject=f"order-{n}",
            data={"n": n},
        )


async def test_the_sequencer_and_relay_carry_on_after_connections_drop(
    engine: AsyncEngine,
    kafka_peer: KafkaPeer,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    prefix = "recovery."
    relay = KafkaRelay(
        sessions,
        KafkaSettings(
            bootstrap_servers=kafka_peer.bootstrap_servers, topic_prefix=prefix
        ),
    )
    sequencer = Sequencer(sessions)
    await emit(sessions, caller, 1)
    await sequencer.run_until_idle()
    await relay.run_once()

    killed = await drop_every_connection(engine)
    await emit(sessions, caller, 2)
    await sequencer.run_until_idle()
    try:
        while await relay.run_once():
            pass
    finally:
        await relay.close()
    records = await read_all(
        kafka_peer.bootstrap_servers, f"{prefix}orders", timeout=10
    )

    assert killed >= 1
    assert sorted(record.key for record in records) == [b"order-1", b"order-2"]


async def test_the_live_stream_carries_on_after_connections_drop(
    app: FastAPI,
    engine: AsyncEngine,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    sequencer = Sequencer(sessions)
    await sequencer.run_until_idle()
    async with sessions() as session:
        start = await latest_position(session, caller.account.id)
    seen: list[str] = []

    async def listen(base_url: str) -> None:
        async with (
            httpx.AsyncClient(base_url=base_url, timeout=15) as http,
            # An explicit start: a stream opened late must still see event 1.
            http.stream(
                "GET", f"/v1/events/stream?after={start}", headers=caller.headers
            ) as response,
        ):
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    seen.append(orjson.loads(line[5:])["subject"])
                    if len(seen) == 2:
                        return

    async with live_server(app) as base_url:
        listener = asyncio.create_task(listen(base_url))
        await asyncio.sleep(0.3)
        await emit(sessions, caller, 1)
        await sequencer.run_until_idle()
        await asyncio.sleep(0.3)
        await drop_every_connection(engine)
        await emit(sessions, caller, 2)
        await sequencer.run_until_idle()
        await asyncio.wait_for(listener, 30)

    assert seen == ["order-1", "order-2"]
