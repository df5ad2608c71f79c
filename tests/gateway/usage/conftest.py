"""Apps that count usage, callers to use them, and the report to read it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.accounts.scopes import Scope
from gateway.api.app import create_app
from gateway.backends import Backends
from gateway.settings import Settings
from gateway.usage.settings import UsageSettings
from tests.support.backends import InMemoryErp
from tests.support.factories import Caller, asgi_client, make_caller

#: The capability each path serves, one cheap read per capability but reports
#: (whose router is not part of these tests).
CAPABILITY_PATHS = {
    "catalog": "/v1/catalog/products",
    "orders": "/v1/orders",
    "documents": "/v1/documents",
    "claims": "/v1/claims",
    "webhooks": "/v1/webhooks/endpoints",
    "events": "/v1/events",
}

ReplicaFactory = Callable[..., AbstractAsyncContextManager[FastAPI]]


@pytest.fixture
def replica(settings: Settings) -> ReplicaFactory:
    """Starts one gateway process; several share the database like replicas.

    The periodic flush is five minutes away unless asked otherwise, so that a test
    decides when counts reach the database.
    """

    @asynccontextmanager
    async def start(flush_interval_seconds: float = 300.0) -> AsyncIterator[FastAPI]:
        erp = InMemoryErp()
        erp.add("P1", "10.00", stock=5)
        usage = UsageSettings(flush_interval_seconds=flush_interval_seconds)
        application = create_app(
            settings.model_copy(update={"usage": usage}),
            Backends(erp=erp, erp_name="erp", cms=erp, cms_name="erp"),
        )
        async with application.router.lifespan_context(application):
            yield application

    return start


@pytest.fixture
async def usage_app(replica: ReplicaFactory) -> AsyncIterator[FastAPI]:
    async with replica() as application:
        yield application


@pytest.fixture
async def api(
    usage_app: FastAPI, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(usage_app) as client:
        yield client


@pytest.fixture
async def supplier(sessions: async_sessionmaker[AsyncSession]) -> Caller:
    """The supplier's own reporting key: every account's reports, nothing else."""
    return await make_caller(
        sessions, name="AAA Supplier Reporting", scopes=frozenset({Scope.REPORTS_ALL})
    )


async def report(
    api: httpx.AsyncClient, supplier: Caller, **params: Any
) -> dict[str, Any]:
    response = await api.get("/v1/admin/usage", headers=supplier.headers, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def account_of(body: dict[str, Any], caller: Caller) -> dict[str, Any]:
    matching: list[dict[str, Any]] = [
        item
        for item in body["accounts"]
        if item["account_id"] == str(caller.account.id)
    ]
    (found,) = matching
    return found


def requests_by_capability(entry: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {
        used["capability"]: used["requests"] for used in entry["used"]
    }
    return counts
