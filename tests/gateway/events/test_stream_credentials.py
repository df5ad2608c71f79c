"""An open live stream checks its key again: revoking the key or suspending
the account ends it, and nothing committed after that is sent. Real HTTP
(the stream is endless) over real PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.accounts.model import AccountStatus
from gateway.accounts import service
from gateway.db.engine import transaction
from gateway.db.tables import AccountRow
from gateway.events import routes
from gateway.events.feed import latest_position
from gateway.events.sequencer import Sequencer
from tests.gateway.events.test_feed import emit
from tests.support.factories import Caller
from tests.support.live_server import live_server

Lapse = Callable[[async_sessionmaker[AsyncSession], Caller], Awaitable[None]]
#: Long enough for a stream that ought to end to end, short enough that a
#: stream that never ends fails the test quickly.
ENDS_WITHIN = 5.0


@contextlib.asynccontextmanager
async def open_stream(
    app: FastAPI, caller: Caller, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[httpx.Response]:
    """The caller's stream, open and authorised (its headers have arrived),
    starting after every event committed so far."""
    async with sessions() as session:
        start = await latest_position(session, caller.account.id)
    async with (
        live_server(app) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=10) as http,
        http.stream(
            "GET",
            "/v1/events/stream",
            headers={**caller.headers, "Last-Event-ID": str(start)},
        ) as response,
    ):
        assert response.status_code == 200
        yield response


async def rest_of(lines: AsyncIterator[str]) -> list[str]:
    """Every line until the server ends the stream."""
    return [line async for line in lines]


async def until_heartbeat(lines: AsyncIterator[str]) -> None:
    async for line in lines:
        if line.startswith(":"):
            return
    raise AssertionError("the stream ended before its first heartbeat")


def event_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith(("id:", "event:", "data:"))]


async def suspend(sessions: async_sessionmaker[AsyncSession], caller: Caller) -> None:
    async with transaction(sessions) as session:
        await session.execute(
            update(AccountRow)
            .where(AccountRow.id == caller.account.id)
            .values(status=AccountStatus.SUSPENDED.value)
        )


async def revoke(sessions: async_sessionmaker[AsyncSession], caller: Caller) -> None:
    await service.revoke_key(sessions, f"pk_{caller.prefix}")


@pytest.mark.parametrize("lapse", [revoke, suspend], ids=["revoked", "suspended"])
async def test_an_event_after_the_key_lapsed_is_not_sent_and_the_stream_ends(
    app: FastAPI,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
    lapse: Lapse,
) -> None:
    sequencer = Sequencer(sessions)
    await sequencer.run_until_idle()
    async with open_stream(app, caller, sessions) as response:
        await lapse(sessions, caller)
        async with transaction(sessions) as session:
            await emit(session, caller, "after-the-lapse")
        await sequencer.run_until_idle()

        lines = await asyncio.wait_for(rest_of(response.aiter_lines()), ENDS_WITHIN)

    assert event_lines(lines) == []
    assert "after-the-lapse" not in "\n".join(lines)


@pytest.mark.parametrize("lapse", [revoke, suspend], ids=["revoked", "suspended"])
async def test_a_quiet_stream_ends_at_the_heartbeat_after_the_key_lapsed(
    app: FastAPI,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    lapse: Lapse,
) -> None:
    monkeypatch.setattr(routes, "HEARTBEAT_SECONDS", 0.2)
    async with open_stream(app, caller, sessions) as response:
        lines = response.aiter_lines()
        await asyncio.wait_for(until_heartbeat(lines), ENDS_WITHIN)
        await lapse(sessions, caller)

        rest = await asyncio.wait_for(rest_of(lines), ENDS_WITHIN)

    assert event_lines(rest) == []


async def test_a_stream_whose_key_holds_keeps_its_heartbeats_and_events(
    app: FastAPI,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(routes, "HEARTBEAT_SECONDS", 0.1)
    sequencer = Sequencer(sessions)
    await sequencer.run_until_idle()
    received: list[str] = []
    async with open_stream(app, caller, sessions) as response:
        lines = response.aiter_lines()
        for _ in range(3):
            await asyncio.wait_for(until_heartbeat(lines), ENDS_WITHIN)
        async with transaction(sessions) as session:
            await emit(session, caller, "still-welcome")
        await sequencer.run_until_idle()
        async with asyncio.timeout(ENDS_WITHIN):
            async for line in lines:
                received.append(line)
                if line.startswith("data:"):
                    break

    assert "still-welcome" in received[-1]
