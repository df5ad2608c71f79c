"""Case C19 on the routes that write: hostile numbers and structures in an
order are refused at once and leave nothing behind."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.db.tables import IdempotencyKeyRow
from tests.gateway.orders.conftest import count_orders
from tests.support.factories import Caller

DIGITS = b"9" * 5000
DEEP = b"[" * 10_000 + b"]" * 10_000


def line(quantity: bytes) -> bytes:
    return b'{"lines":[{"sku":"P1","quantity":' + quantity + b"}]}"


HOSTILE = {
    "quantity 1E+1000000 as text": line(b'"1E+1000000"'),
    "quantity 1E+1000000 as number": line(b"1E+1000000"),
    "quantity NaN": line(b"NaN"),
    "quantity of 5,000 digits": line(DIGITS),
    "quantity of 5,000 digits as text": line(b'"' + DIGITS + b'"'),
    "quantity with 5,000 decimals": line(b"1." + DIGITS),
    "a price sent along": b'{"lines":[{"sku":"P1","quantity":1,"price":"NaN"}]}',
    "lines nested 10,000 deep": b'{"lines":' + DEEP + b"}",
    "a reference nested 10,000 deep": (
        b'{"lines":[{"sku":"P1","quantity":1}],"customer_reference":' + DEEP + b"}"
    ),
}


async def stored_keys(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(
            await session.scalar(select(func.count()).select_from(IdempotencyKeyRow))
            or 0
        )


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
async def test_c19_a_hostile_order_is_a_quick_422_and_stores_nothing(
    api: httpx.AsyncClient,
    dealer: Caller,
    sessions: async_sessionmaker[AsyncSession],
    body: bytes,
) -> None:
    started = time.perf_counter()

    response = await api.post(
        "/v1/orders",
        content=body,
        headers={
            **dealer.headers,
            "Content-Type": "application/json",
            "Idempotency-Key": str(uuid.uuid4()),
        },
    )

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    # Not a speed target: a guard that nothing parses or loops for long.
    assert time.perf_counter() - started < 1.0
    assert await count_orders(sessions) == 0
    assert await stored_keys(sessions) == 0


async def test_c19_a_50_mb_order_is_a_413_before_it_is_read(
    api: httpx.AsyncClient, dealer: Caller, sessions: async_sessionmaker[AsyncSession]
) -> None:
    sent = 0

    async def fifty_megabytes() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"lines":['
        for _ in range(50):
            sent += 1 << 20
            yield b" " * (1 << 20)

    response = await api.post(
        "/v1/orders",
        content=fifty_megabytes(),
        headers={
            **dealer.headers,
            "Content-Type": "application/json",
            "Idempotency-Key": str(uuid.uuid4()),
        },
    )

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert sent < 50 << 20
    assert await count_orders(sessions) == 0
    assert await stored_keys(sessions) == 0
