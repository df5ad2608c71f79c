"""Webhooks end to end on real PostgreSQL and real loopback receivers.

The application runs with the in-memory ERP twin (so real order events can be
made through the API) and the webhooks router; the worker's parts (sequencer,
fan-out, dispatcher) are driven round by round.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.api.app import create_app
from gateway.backends import Backends
from gateway.db.engine import transaction
from gateway.db.tables import WebhookAttemptRow, WebhookDeliveryRow
from gateway.events.outbox import record_event
from gateway.events.sequencer import Sequencer
from gateway.settings import Settings
from gateway.webhooks import routes as webhook_routes
from gateway.webhooks.dispatcher import WebhookDispatcher
from gateway.webhooks.fanout import WebhookFanout
from gateway.webhooks.settings import WebhookSettings
from tests.gateway.webhooks.receiver import Receiver, serving
from tests.support.backends import InMemoryErp
from tests.support.factories import Caller, asgi_client


def quick_settings(**overrides: Any) -> WebhookSettings:
    """Loopback allowed over http, quick timeouts, retries due at once."""
    fields: dict[str, Any] = {
        "allow_http": True,
        "allowed_targets": ["127.0.0.1"],
        "timeout_seconds": 1.0,
        "lease_seconds": 5.0,
        "retry_base_seconds": 0.0,
        "retry_max_seconds": 0.0,
        "max_attempts": 5,
        **overrides,
    }
    return WebhookSettings(**fields)


@pytest.fixture
def webhook_settings() -> WebhookSettings:
    return quick_settings()


@pytest.fixture
def erp() -> InMemoryErp:
    erp = InMemoryErp()
    erp.add("P1", "10.50", stock=100)
    return erp


@pytest.fixture
async def webhooks_app(
    settings: Settings, erp: InMemoryErp, webhook_settings: WebhookSettings
) -> AsyncIterator[FastAPI]:
    application = create_app(
        settings, Backends(erp=erp, erp_name="erp", cms=erp, cms_name="erp")
    )
    if not any(
        getattr(route, "path", "").startswith("/v1/webhooks")
        for route in application.routes
    ):
        application.include_router(webhook_routes.router)
    application.dependency_overrides[webhook_routes.get_webhook_settings] = lambda: (
        webhook_settings
    )
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def api(
    webhooks_app: FastAPI, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(webhooks_app) as client:
        yield client


@dataclass
class Worker:
    """The worker's webhook half, one round at a time."""

    sequencer: Sequencer
    fanout: WebhookFanout
    dispatcher: WebhookDispatcher

    async def fan_out(self) -> None:
        await self.sequencer.run_until_idle()
        await self.fanout.run_until_idle()

    async def round(self) -> int:
        """Queue what committed, then send what is due once."""
        await self.fan_out()
        return await self.dispatcher.run_once()

    async def until_idle(self, max_rounds: int = 20) -> None:
        for _ in range(max_rounds):
            if not await self.round():
                return


@pytest.fixture
async def worker(
    sessions: async_sessionmaker[AsyncSession], webhook_settings: WebhookSettings
) -> AsyncIterator[Worker]:
    dispatcher = WebhookDispatcher(sessions, webhook_settings)
    yield Worker(Sequencer(sessions), WebhookFanout(sessions), dispatcher)
    await dispatcher.aclose()


@contextlib.asynccontextmanager
async def dispatcher(
    sessions: async_sessionmaker[AsyncSession], **overrides: Any
) -> AsyncIterator[WebhookDispatcher]:
    """A dispatcher of its own, with settings changed for one test."""
    own = WebhookDispatcher(sessions, quick_settings(**overrides))
    try:
        yield own
    finally:
        await own.aclose()


async def once_due(dispatcher: WebhookDispatcher) -> int:
    """Run ``dispatcher`` until it leases something (5 s at most): a lease or
    a Retry-After runs out on the database's clock, which nothing announces."""
    async with asyncio.timeout(5):
        while not (leased := await dispatcher.run_once()):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    return leased


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
async def receiver_url(receiver: Receiver) -> AsyncIterator[str]:
    async with serving(receiver) as url:
        yield url


async def create_endpoint(
    api: httpx.AsyncClient, caller: Caller, url: str, **fields: Any
) -> dict[str, Any]:
    response = await api.post(
        "/v1/webhooks/endpoints", json={"url": url, **fields}, headers=caller.headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def deliveries(
    sessions: async_sessionmaker[AsyncSession],
) -> list[WebhookDeliveryRow]:
    async with sessions() as session:
        return list(
            await session.scalars(
                select(WebhookDeliveryRow).order_by(WebhookDeliveryRow.seq)
            )
        )


async def attempts(
    sessions: async_sessionmaker[AsyncSession],
) -> list[WebhookAttemptRow]:
    async with sessions() as session:
        return list(
            await session.scalars(
                select(WebhookAttemptRow).order_by(
                    WebhookAttemptRow.delivery_id, WebhookAttemptRow.attempt
                )
            )
        )


async def emit(
    sessions: async_sessionmaker[AsyncSession],
    caller: Caller,
    subject: str = "order-1",
    data: dict[str, Any] | None = None,
    event_type: str = "order.status_changed",
) -> uuid.UUID:
    """Commit one event for ``caller``'s account, as a service would."""
    async with transaction(sessions) as session:
        return await record_event(
            session,
            event_type=event_type,
            account_id=caller.account.id,
            subject=subject,
            data=data if data is not None else {"status": "accepted"},
        )
