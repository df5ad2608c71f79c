"""Orders behind the in-memory ERP twin: the API's own rules, driven exactly.

The round trip through a real Tryton is tested in test_orders_tryton.py.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.accounts.scopes import DEALER_SCOPES, Scope
from gateway.api.app import create_app
from gateway.backends import Backends
from gateway.db.engine import transaction
from gateway.db.tables import AccountRow, OrderRow, OutboxRow
from gateway.orders.submission import OrderSubmitter
from gateway.orders.sync import OrderSync
from gateway.references import EntityKind, ReferenceRepository
from gateway.settings import Settings, WorkerSettings
from tests.support.backends import InMemoryErp
from tests.support.factories import Caller, asgi_client, make_caller


@pytest.fixture
def erp() -> InMemoryErp:
    erp = InMemoryErp(customer_discounts={"CUST-1": Decimal("0.1")})
    for index in range(1, 8):
        erp.add(f"P{index}", f"{index * 10}.00", stock=100)
    return erp


@pytest.fixture
async def orders_app(settings: Settings, erp: InMemoryErp) -> AsyncIterator[FastAPI]:
    backends = Backends(erp=erp, erp_name="erp", cms=erp, cms_name="erp")
    application = create_app(settings, backends)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def api(
    orders_app: FastAPI, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(orders_app) as client:
        yield client


async def linked_caller(
    sessions: async_sessionmaker[AsyncSession],
    *,
    customer_ref: str = "CUST-1",
    name: str = "Nordwind Dealer GmbH",
    scopes: frozenset[Scope] = DEALER_SCOPES,
    approval_threshold: str | None = None,
) -> Caller:
    caller = await make_caller(sessions, name=name, scopes=scopes)
    async with transaction(sessions) as session:
        await ReferenceRepository(session).link(
            EntityKind.ACCOUNT, caller.account.id, "erp", customer_ref
        )
        if approval_threshold is not None:
            await session.execute(
                update(AccountRow)
                .where(AccountRow.id == caller.account.id)
                .values(approval_threshold=approval_threshold)
            )
    return caller


@pytest.fixture
async def dealer(sessions: async_sessionmaker[AsyncSession]) -> Caller:
    return await linked_caller(sessions)


@dataclass
class Worker:
    submitter: OrderSubmitter
    sync: OrderSync

    async def submit(self) -> int:
        return await self.submitter.run_once()

    async def poll(self) -> int | None:
        return await self.sync.run_once()


@pytest.fixture
def worker(sessions: async_sessionmaker[AsyncSession], erp: InMemoryErp) -> Worker:
    settings = WorkerSettings(retry_base_seconds=0.01, retry_max_seconds=0.02)
    return Worker(
        OrderSubmitter(sessions, erp, "erp", settings),
        OrderSync(sessions, erp, "erp", batch=50),
    )


def order_body(*lines: tuple[str, int], **extra: Any) -> dict[str, Any]:
    return {
        "lines": [{"sku": sku, "quantity": quantity} for sku, quantity in lines],
        **extra,
    }


async def place(
    api: httpx.AsyncClient,
    caller: Caller,
    body: dict[str, Any],
    key: str | None = None,
) -> httpx.Response:
    return await api.post(
        "/v1/orders",
        json=body,
        headers={**caller.headers, "Idempotency-Key": key or str(uuid.uuid4())},
    )


async def count_orders(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(
            await session.scalar(select(func.count()).select_from(OrderRow)) or 0
        )


async def events(
    sessions: async_sessionmaker[AsyncSession], subject: str
) -> list[tuple[str, str]]:
    async with sessions() as session:
        rows = await session.execute(
            select(OutboxRow.type, OutboxRow.data["status"].astext)
            .where(OutboxRow.subject == subject)
            .order_by(OutboxRow.id)
        )
        return [(kind, status) for kind, status in rows]
