"""Documents behind the in-memory ERP twin: the index, downloads, exports
and the statement, driven exactly. The round trip through a real Tryton is
in test_documents_tryton.py."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.documents.erp import ErpDocument
from domain.documents.model import DocumentStatus, DocumentType
from domain.money import Money
from gateway.backends import Backends
from gateway.documents.sync import DocumentSync
from gateway.settings import Settings
from tests.gateway.documents.harness import client_of, portico_app
from tests.support.backends import InMemoryErp


@pytest.fixture
def erp() -> InMemoryErp:
    erp = InMemoryErp()
    for index in range(1, 6):
        erp.add(f"P{index}", f"{index * 10}.00", stock=100)
    return erp


@pytest.fixture
async def documents_app(settings: Settings, erp: InMemoryErp) -> AsyncIterator[FastAPI]:
    backends = Backends(erp=erp, erp_name="erp", cms=erp, cms_name="erp")
    async with portico_app(settings, backends) as application:
        yield application


@pytest.fixture
async def api(
    documents_app: FastAPI, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(documents_app) as client:
        yield client


@pytest.fixture
def sync(sessions: async_sessionmaker[AsyncSession], erp: InMemoryErp) -> DocumentSync:
    return DocumentSync(sessions, erp, "erp", batch=50)


def erp_document(
    external_ref: str,
    customer_ref: str,
    *,
    type: DocumentType = DocumentType.INVOICE,
    status: DocumentStatus = DocumentStatus.ISSUED,
    number: str | None = None,
    issued: date = date(2026, 11, 2),
    due: date | None = None,
    amount: str | None = "100.00",
    order_external_id: str | None = None,
    order_id: uuid.UUID | None = None,
) -> ErpDocument:
    return ErpDocument(
        external_ref=external_ref,
        type=type,
        status=status,
        customer_ref=customer_ref,
        number=number or f"INV-{external_ref}",
        issue_date=issued,
        due_date=due,
        amount=None if amount is None else Money(Decimal(amount), "USD"),
        order_external_id=order_external_id,
        order_id=order_id,
        changed_at=datetime.now(UTC),
    )
