"""Commit-order positions (C15), the changes feed, the live stream and the
exactly-once consumer helper, on real PostgreSQL."""

import asyncio
import uuid
from typing import Any

import httpx
import orjson
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.accounts.scopes import Scope
from gateway.db.engine import transaction
from gateway.events.consumer import first_delivery
from gateway.events.feed import latest_position
from gateway.events.outbox import record_event
from gateway.events.sequencer import Sequencer
from tests.support.factories import Caller, make_caller
from tests.support.live_server import live_server


async def emit(
    session: AsyncSession, caller: Caller, subject: str, n: int = 0
) -> uuid.UUID:
    return await record_event(
        session,
        event_type="order.status_changed",
        account_id=caller.account.id,
        subject=subject,
        data={"n": n, "note": "Счёт-фактура №12", "amount": "10.50"},
    )


async def feed(
    client: httpx.AsyncClient, caller: Caller, after: int = 0, **params: str
) -> dict[str, Any]:
    response = await client.get(
        "/v1/events", params={"after": after, **params}, headers=caller.headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def subjects(page: dict[str, object]) -> list[str]:
    events = page["events"]
    assert isinstance(events, list)
    return [
        event["subject"] for event in events if event["type"] == "order.status_changed"
    ]


async def test_c15_a_late_commit_is_sequenced_after_what_was_already_seen(
    client: httpx.AsyncClient,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    sequencer = Sequencer(sessions)
    await sequencer.run_until_idle()
    start = (await feed(client, caller))["next_after"]
    assert isinstance(start, int)
    early = sessions()
    await early.begin()
    await emit(early, caller, "order-101")  # written first, committed last
    await early.flush()
    async with transaction(sessions) as late:
        await emit(late, caller, "order-102")

    await sequencer.run_until_idle()
    first = await feed(client, caller, start)
    await early.commit()
    await early.close()
    await sequencer.run_until_idle()
    second = await feed(client, caller, int(str(first["next_after"])))

    assert subjects(first) == ["order-102"]
    assert subjects(second) == ["order-101"]


async def test_one_entitys_events_keep_their_commit_order(
    client: httpx.AsyncClient,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    for n in range(5):
        async with transaction(sessions) as session:
            await emit(session, caller, "order-7", n)

    await Sequencer(sessions).run_until_idle()
    page = await feed(client, caller)

    events = [e for e in page["events"] if e["subject"] == "order-7"]
    assert [event["data"]["n"] for event in events] == [0, 1, 2, 3, 4]
    positions = [int(event["sequence"]) for event in events]
    assert positions == sorted(positions)


async def test_the_feed_is_the_accounts_own_cloudevents(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    mine = await make_caller(sessions, name="Mine")
    theirs = await make_caller(sessions, name="Theirs")
    async with transaction(sessions) as session:
        await emit(session, mine, "order-m")
        await emit(session, theirs, "order-t")
    await Sequencer(sessions).run_until_idle()

    page = await feed(client, mine, types="order.status_changed")
    [event] = page["events"]

    assert event["subject"] == "order-m"
    assert event["specversion"] == "1.0"
    assert event["source"] == "/portico"
    assert event["data"]["amount"] == "10.50"
    account_events = await feed(client, mine, types="account.created")
    assert [e["subject"] for e in account_events["events"]] == [str(mine.account.id)]


async def test_unknown_event_types_are_a_422(
    client: httpx.AsyncClient, caller: Caller
) -> None:
    response = await client.get(
        "/v1/events?types=order.exploded", headers=caller.headers
    )

    assert response.status_code == 422
    assert "order.status_changed" in response.json()["detail"]


async def test_the_feed_needs_the_events_scope(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    caller = await make_caller(sessions, scopes=frozenset({Scope.ORDERS_READ}))

    response = await client.get("/v1/events", headers=caller.headers)

    assert response.status_code == 403


async def test_a_redelivered_event_changes_nothing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    event_id = uuid.uuid4()
    applied = []
    for _ in range(3):
        async with transaction(sessions) as session:
            if await first_delivery(session, "mailer", event_id):
                applied.append(event_id)

    async with transaction(sessions) as session:
        other_consumer = await first_delivery(session, "ledger", event_id)

    assert applied == [event_id]
    assert other_consumer is True


async def test_the_stream_sends_events_as_they_commit_and_resumes(
    app: FastAPI,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    sequencer = Sequencer(sessions)
    await sequencer.run_until_idle()
    received: list[dict[str, str]] = []
    base_url = ""

    async def listen(headers: dict[str, str], count: int) -> None:
        async with (
            httpx.AsyncClient(base_url=base_url, timeout=10) as http,
            http.stream(
                "GET", "/v1/events/stream", headers={**caller.headers, **headers}
            ) as response,
        ):
            assert response.headers["content-type"].startswith("text/event-stream")
            event: dict[str, str] = {}
            async for line in response.aiter_lines():
                if line.startswith(("id:", "event:", "data:")):
                    field, _, value = line.partition(":")
                    event[field] = value.strip()
                elif not line and "id" in event:
                    received.append(event)
                    event = {}
                    if len(received) >= count:
                        return

    async with live_server(app) as served:
        base_url = served
        async with sessions() as session:
            start = await latest_position(session, caller.account.id)
        # An explicit start: a stream opened late must still see both events.
        listener = asyncio.create_task(listen({"Last-Event-ID": str(start)}, 2))
        await asyncio.sleep(0.3)
        for n in range(2):
            async with transaction(sessions) as session:
                await emit(session, caller, f"live-{n}", n)
        await sequencer.run_until_idle()
        await asyncio.wait_for(listener, 10)
        first_id = received[0]["id"]
        received.clear()
        await asyncio.wait_for(listen({"Last-Event-ID": first_id}, 1), 10)

    assert received[0]["event"] == "order.status_changed"
    assert orjson.loads(received[0]["data"])["subject"] == "live-1"
