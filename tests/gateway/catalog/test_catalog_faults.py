"""Catalog reads when a backend is slow or trickles: cases C17 and C21,
through the HTTP API."""

from __future__ import annotations

import asyncio
import time

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.api.app import create_app
from gateway.settings import ConnectorInstanceSettings, PortBindings, Settings
from tests.support.backends import Behaviour, InMemoryErp
from tests.support.factories import Caller, asgi_client, make_caller
from tests.support.slow_server import ServerStats, trickling_server

DEADLINE_SECONDS = 1.5


async def test_c17_a_trickling_erp_is_a_504_or_a_partial_answer_at_the_deadline(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    stats = ServerStats()
    caller = await make_caller(sessions)
    async with trickling_server(0.5, stats) as url:
        bound = settings.model_copy(
            update={
                "connectors": {
                    "erp": ConnectorInstanceSettings(
                        kind="tryton",
                        options={
                            "base_url": url,
                            "database": "portico",
                            "username": "portico",
                            "password": "secret",
                            "deadline_seconds": DEADLINE_SECONDS,
                            "retry_attempts": 1,
                        },
                    )
                },
                "ports": PortBindings(erp="erp"),
            }
        )
        application = create_app(bound)
        async with (
            application.router.lifespan_context(application),
            asgi_client(application) as client,
        ):
            started = time.perf_counter()
            listing = await client.get("/v1/catalog/products", headers=caller.headers)
            listing_took = time.perf_counter() - started
            started = time.perf_counter()
            product = await client.get(
                "/v1/catalog/products/P1", headers=caller.headers
            )
            product_took = time.perf_counter() - started
            # The server sees a closed socket on its next trickled byte.
            for _ in range(40):
                if stats.open_connections == 0:
                    break
                await asyncio.sleep(0.1)

    assert listing.status_code == 504, listing.text
    assert listing.headers["content-type"] == "application/problem+json"
    assert listing.json()["code"] == "backend_timeout"
    assert "secret" not in listing.text
    assert product.status_code == 200, product.text
    assert product.json()["complete"] is False
    assert {part["reason"] for part in product.json()["missing"]} == {"timeout"}
    # Abandoned at the total deadline, not after read timeouts of 5 s each.
    for took in (listing_took, product_took):
        assert DEADLINE_SECONDS - 0.1 < took < DEADLINE_SECONDS + 1.5
    assert stats.open_connections == 0, "the connections were not released"


async def test_c21_a_slow_stock_backend_leaves_a_named_gap_never_cached(
    api: httpx.AsyncClient, dealer: Caller, erp: InMemoryErp
) -> None:
    erp.behaviour["stock_levels"] = Behaviour(delay=30)

    partial = await api.get("/v1/catalog/products/P1", headers=dealer.headers)
    erp.behaviour.clear()
    erp.calls.clear()
    again = await api.get("/v1/catalog/products/P1", headers=dealer.headers)

    assert partial.status_code == 200, partial.text
    body = partial.json()
    assert body["stock"] is None
    assert body["price"] is not None
    assert body["content"]["sku"] == "P1"
    assert body["complete"] is False
    assert body["missing"] == [
        {
            "part": "stock",
            "system": "erp",
            "reason": "timeout",
            "detail": body["missing"][0]["detail"],
        }
    ]
    assert again.json()["complete"] is True
    assert again.json()["stock"] is not None
    assert "stock_levels" in erp.calls, "the partial answer was not kept as stock"
