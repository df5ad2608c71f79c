"""The shared call policy against real sockets: deadlines (C17), retries only
where safe, and a circuit that opens and closes."""

import asyncio
import time

import httpx
import pytest

from connectors.runtime import (
    ConnectorCalls,
    ConnectorConfig,
    build_http_client,
    translate_http_errors,
)
from domain.backends import (
    BackendRejectedError,
    BackendTimeoutError,
    BackendUnavailableError,
    CircuitOpenError,
)
from tests.support.slow_server import ServerStats, scripted_server, trickling_server


def config(base_url: str, **overrides: object) -> ConnectorConfig:
    values: dict[str, object] = {
        "base_url": base_url,
        "deadline_seconds": 1.0,
        "retry_attempts": 3,
        "retry_wait_initial_seconds": 0.01,
        "breaker_threshold": 3,
        "breaker_reset_seconds": 0.3,
    }
    values.update(overrides)
    return ConnectorConfig.model_validate(values)


def client(base_url: str) -> httpx.AsyncClient:
    """The client connectors use, with a read timeout longer than the trickle."""
    return build_http_client(config(base_url, deadline_seconds=5.0))


async def get_json(http: httpx.AsyncClient, calls: ConnectorCalls) -> object:
    async def call() -> object:
        with translate_http_errors(calls.system, "get"):
            response = await http.get("/thing")
            response.raise_for_status()
            return response.json()

    return await calls.run("get", call, idempotent=True)


async def test_c17_a_trickling_backend_is_abandoned_at_the_total_deadline() -> None:
    stats = ServerStats()
    async with trickling_server(0.5, stats) as base_url, client(base_url) as http:
        calls = ConnectorCalls("erp", config(base_url, deadline_seconds=1.2))
        started = time.perf_counter()

        with pytest.raises(BackendTimeoutError):
            await get_json(http, calls)
        elapsed = time.perf_counter() - started
        # The server notices the closed socket on its next trickled write.
        for _ in range(40):
            if stats.open_connections == 0:
                break
            await asyncio.sleep(0.1)

        assert 1.1 < elapsed < 2.5
        assert stats.open_connections == 0, "the connection was not released"


async def test_idempotent_calls_are_retried_on_transient_failures() -> None:
    stats = ServerStats()
    async with (
        scripted_server([503, 502, 200], stats) as base_url,
        client(base_url) as http,
    ):
        result = await get_json(http, ConnectorCalls("erp", config(base_url)))

    assert result == {"ok": True}
    assert stats.statuses == [503, 502, 200]


async def test_retries_stop_at_the_configured_attempts_counting_the_first() -> None:
    stats = ServerStats()
    async with (
        scripted_server([503, 503, 503, 200], stats) as base_url,
        client(base_url) as http,
    ):
        with pytest.raises(BackendUnavailableError):
            await get_json(http, ConnectorCalls("erp", config(base_url)))

    assert stats.statuses == [503, 503, 503], "3 attempts in all, the first included"


async def test_non_idempotent_calls_are_tried_once() -> None:
    stats = ServerStats()
    async with scripted_server([503, 200], stats) as base_url, client(base_url) as http:
        calls = ConnectorCalls("erp", config(base_url))

        async def post() -> None:
            with translate_http_errors("erp", "post"):
                (await http.post("/orders", json={})).raise_for_status()

        with pytest.raises(BackendUnavailableError):
            await calls.run("post", post, idempotent=False)

    assert stats.requests == 1


async def test_permanent_rejections_are_not_retried() -> None:
    stats = ServerStats()
    async with scripted_server([422], stats) as base_url, client(base_url) as http:
        with pytest.raises(BackendRejectedError):
            await get_json(http, ConnectorCalls("erp", config(base_url)))

    assert stats.requests == 1


async def test_the_circuit_opens_after_failures_and_closes_after_a_probe() -> None:
    stats = ServerStats()
    async with (
        scripted_server([500, 500, 500, 200], stats) as base_url,
        client(base_url) as http,
    ):
        calls = ConnectorCalls("erp", config(base_url, retry_attempts=1))
        for _ in range(3):
            with pytest.raises(BackendUnavailableError):
                await get_json(http, calls)
        requests_before = stats.requests

        with pytest.raises(CircuitOpenError):
            await get_json(http, calls)
        untouched = stats.requests == requests_before
        await asyncio.sleep(0.35)
        probe = await get_json(http, calls)

    assert untouched, "an open circuit must not call the backend"
    assert probe == {"ok": True}
    assert await calls.circuit_state() == "closed"


async def test_rejections_do_not_open_the_circuit() -> None:
    stats = ServerStats()
    async with scripted_server([404], stats) as base_url, client(base_url) as http:
        calls = ConnectorCalls("erp", config(base_url, breaker_threshold=2))
        for _ in range(4):
            with pytest.raises(BackendRejectedError):
                await get_json(http, calls)

    assert stats.requests == 4
    assert await calls.circuit_state() == "closed"


async def test_concurrency_is_bounded() -> None:
    calls = ConnectorCalls(
        "erp", config("http://127.0.0.1:9", max_concurrency=2, deadline_seconds=5)
    )
    in_flight = 0
    peak = 0

    async def work() -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.05)
        in_flight -= 1

    await asyncio.gather(*(calls.run("work", work, idempotent=True) for _ in range(8)))

    assert peak == 2
