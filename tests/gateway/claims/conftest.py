"""Claims behind the in-memory ERP twin: the API's own rules, driven exactly.
The round trip through a real Tryton is in test_claims_tryton.py."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.backends import Backends
from gateway.claims.settings import ClaimsSettings
from gateway.claims.sync import ClaimSync
from gateway.claims.tasks import ClaimErpWorker
from gateway.orders.submission import OrderSubmitter
from gateway.settings import Settings, WorkerSettings
from tests.gateway.documents.harness import client_of, portico_app
from tests.gateway.orders.conftest import linked_caller, order_body, place
from tests.support.backends import InMemoryErp
from tests.support.factories import Caller

#: Small, so that tests of the limit send little; below the global body limit.
ATTACHMENT_LIMIT = 512 << 10
CLAIMS = ClaimsSettings(
    max_attachment_bytes=ATTACHMENT_LIMIT,
    retry_base_seconds=0.01,
    retry_max_seconds=0.02,
)


@pytest.fixture
def erp() -> InMemoryErp:
    erp = InMemoryErp()
    for index in range(1, 6):
        erp.add(f"P{index}", f"{index * 10}.00", stock=100)
    return erp


@pytest.fixture
async def claims_app(settings: Settings, erp: InMemoryErp) -> AsyncIterator[FastAPI]:
    backends = Backends(erp=erp, erp_name="erp", cms=erp, cms_name="erp")
    async with portico_app(settings, backends, claims=CLAIMS) as application:
        yield application


@pytest.fixture
async def api(
    claims_app: FastAPI, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(claims_app) as client:
        yield client


@pytest.fixture
async def dealer(sessions: async_sessionmaker[AsyncSession]) -> Caller:
    return await linked_caller(sessions, customer_ref="CUST-1")


@dataclass
class ClaimWorker:
    orders: OrderSubmitter
    tasks: ClaimErpWorker
    sync: ClaimSync

    async def run(self) -> None:
        """Tell the ERP what is pending, then read its answers back."""
        while await self.tasks.run_once():
            pass
        while await self.sync.run_once():
            pass


@pytest.fixture
def worker(sessions: async_sessionmaker[AsyncSession], erp: InMemoryErp) -> ClaimWorker:
    return ClaimWorker(
        OrderSubmitter(sessions, erp, "erp", WorkerSettings()),
        ClaimErpWorker(sessions, erp, "erp", CLAIMS),
        ClaimSync(sessions, erp, "erp", batch=50),
    )


async def delivered_order(
    api: httpx.AsyncClient,
    erp: InMemoryErp,
    worker: ClaimWorker,
    caller: Caller,
    lines: list[tuple[str, int]],
    delivered: dict[str, int] | None = None,
) -> dict[str, Any]:
    """An order taken by the ERP, with ``delivered`` pieces per SKU shipped."""
    placed: dict[str, Any] = (await place(api, caller, order_body(*lines))).json()
    await worker.orders.run_once()
    [external_id] = [
        key
        for key, request in erp.orders.items()
        if str(request.order_id) == placed["id"]
    ]
    erp.deliveries[external_id] = {
        sku: Decimal(quantity) for sku, quantity in (delivered or {}).items()
    }
    return placed


def claim_body(
    order_id: str, *lines: tuple[int, int], type: str = "complaint", **extra: Any
) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "type": type,
        "description": "Parts arrived broken",
        "lines": [
            {"order_line_no": line_no, "quantity": quantity, "reason": "damaged"}
            for line_no, quantity in lines
        ],
        **extra,
    }


async def file_claim(
    api: httpx.AsyncClient,
    caller: Caller,
    body: dict[str, Any],
    key: str | None = None,
) -> httpx.Response:
    return await api.post(
        "/v1/claims",
        json=body,
        headers={**caller.headers, "Idempotency-Key": key or str(uuid.uuid4())},
    )
