"""Counts reach PostgreSQL in batches: from several replicas, after failures,
on shutdown and on their own schedule, never as a write per request."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.db.engine import create_engine, session_factory, transaction
from gateway.db.tables import AccountRow, UsageCounterRow
from gateway.settings import DatabaseSettings
from gateway.usage.capabilities import Capability
from gateway.usage.flusher import UsageFlusher
from gateway.usage.recorder import UsageBuffer
from gateway.usage.settings import UsageSettings
from tests.gateway.usage.conftest import (
    ReplicaFactory,
    account_of,
    report,
    requests_by_capability,
)
from tests.support.factories import Caller, asgi_client, make_caller


async def stored(
    sessions: async_sessionmaker[AsyncSession], account_id: uuid.UUID
) -> dict[str, int]:
    async with sessions() as session:
        rows = await session.scalars(
            select(UsageCounterRow).where(UsageCounterRow.account_id == account_id)
        )
        return {row.capability: row.requests for row in rows}


@pytest.fixture
async def unreachable() -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on a database that refuses every connection."""
    engine = create_engine(
        DatabaseSettings(pool_timeout_seconds=1),
        "postgresql://portico@127.0.0.1:1/portico",
    )
    yield session_factory(engine)
    await engine.dispose()


async def test_requests_wait_in_memory_until_a_flush(
    api: httpx.AsyncClient,
    usage_app: FastAPI,
    sessions: async_sessionmaker[AsyncSession],
    caller: Caller,
) -> None:
    for _ in range(4):
        await api.get("/v1/orders", headers=caller.headers)

    before = await stored(sessions, caller.account.id)
    flushed = await usage_app.state.usage_flusher.flush()

    assert before == {}
    assert flushed is True
    assert await stored(sessions, caller.account.id) == {"orders": 4}
    assert len(usage_app.state.usage) == 0


async def test_two_replicas_add_into_the_same_counters(
    replica: ReplicaFactory,
    sessions: async_sessionmaker[AsyncSession],
    caller: Caller,
    supplier: Caller,
) -> None:
    async with (
        replica() as first,
        replica() as second,
        asgi_client(first) as one,
        asgi_client(second) as two,
    ):
        for _ in range(2):
            await one.get("/v1/orders", headers=caller.headers)
        for _ in range(3):
            await two.get("/v1/orders", headers=caller.headers)
        await two.get("/v1/claims", headers=caller.headers)

        # Each replica flushes its own buffer before it reads; the newer
        # counts land first, the older ones after them.
        seen_by_second = account_of(await report(two, supplier), caller)
        seen_by_first = account_of(await report(one, supplier), caller)

    assert requests_by_capability(seen_by_second) == {"claims": 1, "orders": 3}
    assert requests_by_capability(seen_by_first) == {"claims": 1, "orders": 5}
    # Listed in the order of the capabilities: orders before claims.
    newer, merged = seen_by_second["used"][0], seen_by_first["used"][0]
    assert merged["capability"] == newer["capability"] == "orders"
    assert merged["first_used_at"] < newer["first_used_at"]
    assert merged["last_used_at"] == newer["last_used_at"]


def logged(caplog: pytest.LogCaptureFixture, event: str) -> list[dict[str, object]]:
    return [
        record.msg
        for record in caplog.records
        if record.levelno == logging.WARNING
        and isinstance(record.msg, dict)
        and record.msg.get("event") == event
    ]


async def test_a_failed_flush_keeps_the_counts_for_the_next(
    api: httpx.AsyncClient,
    usage_app: FastAPI,
    unreachable: async_sessionmaker[AsyncSession],
    caller: Caller,
    supplier: Caller,
    caplog: pytest.LogCaptureFixture,
) -> None:
    buffer: UsageBuffer = usage_app.state.usage
    broken = UsageFlusher(buffer, unreachable, UsageSettings())
    for _ in range(2):
        await api.get("/v1/documents", headers=caller.headers)

    outcomes = [await broken.flush(), await broken.flush()]
    kept = (len(buffer), buffer.pending_requests())
    await api.get("/v1/documents", headers=caller.headers)
    (documents,) = account_of(await report(api, supplier), caller)["used"]

    assert outcomes == [False, False]
    # Still one entry per account and capability, however often it failed.
    assert kept == (1, 2)
    assert documents["requests"] == 3
    assert len(logged(caplog, "usage.flush.failed")) == 2


async def test_stopping_flushes_what_is_left(
    replica: ReplicaFactory,
    sessions: async_sessionmaker[AsyncSession],
    caller: Caller,
) -> None:
    async with replica() as application, asgi_client(application) as client:
        await client.get("/v1/events", headers=caller.headers)
        await client.get("/v1/catalog/products", headers=caller.headers)
        before_stop = await stored(sessions, caller.account.id)

    assert before_stop == {}
    assert await stored(sessions, caller.account.id) == {"catalog": 1, "events": 1}


async def test_stopping_without_a_database_gives_up_in_time_and_says_so(
    unreachable: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
) -> None:
    buffer = UsageBuffer()
    buffer.record(uuid.uuid4(), Capability.ORDERS, 200)
    flusher = UsageFlusher(
        buffer, unreachable, UsageSettings(shutdown_flush_seconds=0.5)
    )
    flusher.start()

    async with asyncio.timeout(5):
        await flusher.stop()

    (abandoned,) = logged(caplog, "usage.flush.abandoned")
    assert abandoned["requests"] == 1


async def test_the_flusher_writes_on_its_own_schedule(
    replica: ReplicaFactory,
    sessions: async_sessionmaker[AsyncSession],
    caller: Caller,
) -> None:
    async with (
        replica(flush_interval_seconds=0.05) as application,
        asgi_client(application) as client,
    ):
        await client.get("/v1/webhooks/endpoints", headers=caller.headers)

        found: dict[str, int] = {}
        async with asyncio.timeout(5):
            while not found:
                await asyncio.sleep(0.02)
                found = await stored(sessions, caller.account.id)

    assert found == {"webhooks": 1}


async def test_counts_of_a_deleted_account_are_dropped_not_retried(
    sessions: async_sessionmaker[AsyncSession], caller: Caller
) -> None:
    gone = await make_caller(sessions, name="Gone")
    buffer = UsageBuffer()
    buffer.record(gone.account.id, Capability.CLAIMS, 200)
    buffer.record(caller.account.id, Capability.CLAIMS, 500)
    async with transaction(sessions) as session:
        await session.execute(
            delete(AccountRow).where(AccountRow.id == gone.account.id)
        )

    flushed = await UsageFlusher(buffer, sessions, UsageSettings()).flush()

    assert flushed is True
    assert len(buffer) == 0
    assert await stored(sessions, caller.account.id) == {"claims": 1}
    assert await stored(sessions, gone.account.id) == {}


async def test_a_flush_returns_only_once_earlier_counts_are_committed(
    sessions: async_sessionmaker[AsyncSession], caller: Caller
) -> None:
    buffer = UsageBuffer()
    buffer.record(caller.account.id, Capability.ORDERS, 200)
    flusher = UsageFlusher(buffer, sessions, UsageSettings())
    # Holds the first flush's write (not reads) until released.
    blocker = sessions()
    await blocker.execute(text("LOCK TABLE usage_counters IN EXCLUSIVE MODE"))

    async def flush_then_read() -> dict[str, int]:
        await flusher.flush()
        return await stored(sessions, caller.account.id)

    async def release() -> None:
        await asyncio.sleep(0.3)
        await blocker.commit()
        await blocker.close()

    # The first flush has taken the counts; the reader's flush finds none left
    # and must still wait for the first to commit them.
    _, seen, _ = await asyncio.gather(flusher.flush(), flush_then_read(), release())

    assert seen == {"orders": 1}
