"""Real API calls are counted per account and capability, and only those."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.gateway.usage.conftest import (
    CAPABILITY_PATHS,
    account_of,
    report,
    requests_by_capability,
)
from tests.support.factories import Caller, make_caller


async def test_requests_are_counted_per_account_and_capability(
    api: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    supplier: Caller,
) -> None:
    nordwind = await make_caller(sessions, name="Nordwind")
    sudhaus = await make_caller(sessions, name="Sudhaus")
    for _ in range(3):
        assert (await api.get("/v1/orders", headers=nordwind.headers)).is_success
    await api.get("/v1/catalog/products", headers=nordwind.headers)
    for _ in range(2):
        assert (await api.get("/v1/documents", headers=sudhaus.headers)).is_success

    body = await report(api, supplier)

    assert requests_by_capability(account_of(body, nordwind)) == {
        "catalog": 1,
        "orders": 3,
    }
    assert requests_by_capability(account_of(body, sudhaus)) == {"documents": 2}
    assert account_of(body, supplier)["used"] == []


async def test_every_capability_is_told_apart_by_its_routes(
    api: httpx.AsyncClient, caller: Caller, supplier: Caller
) -> None:
    for path in CAPABILITY_PATHS.values():
        response = await api.get(path, headers=caller.headers)
        assert response.status_code < 500, (path, response.text)

    entry = account_of(await report(api, supplier), caller)

    assert requests_by_capability(entry) == dict.fromkeys(CAPABILITY_PATHS, 1)
    assert entry["unused"] == ["reports"]


async def test_answers_that_refuse_still_count_and_are_classed(
    api: httpx.AsyncClient, caller: Caller, supplier: Caller
) -> None:
    await api.get("/v1/orders", headers=caller.headers)
    missing = await api.get(f"/v1/orders/{uuid.uuid4()}", headers=caller.headers)
    invalid = await api.get("/v1/orders?limit=0", headers=caller.headers)

    (orders,) = account_of(await report(api, supplier), caller)["used"]

    assert (missing.status_code, invalid.status_code) == (404, 422)
    assert orders["requests"] == 3
    assert orders["client_errors"] == 2
    assert orders["server_errors"] == 0


async def test_requests_without_a_valid_key_are_not_counted(
    api: httpx.AsyncClient, usage_app: FastAPI, caller: Caller, supplier: Caller
) -> None:
    anonymous = await api.get("/v1/orders")
    forged = await api.get(
        "/v1/orders", headers={"Authorization": "Bearer pk_abcd1234_nope"}
    )
    mangled = await api.get(
        "/v1/orders", headers={"Authorization": f"Bearer {caller.token}x"}
    )

    buffered = len(usage_app.state.usage)
    entry = account_of(await report(api, supplier), caller)

    assert [anonymous.status_code, forged.status_code, mangled.status_code] == [
        401,
        401,
        401,
    ]
    assert buffered == 0
    assert entry["used"] == []


async def test_routes_outside_the_capabilities_are_not_counted(
    api: httpx.AsyncClient, usage_app: FastAPI, caller: Caller, supplier: Caller
) -> None:
    await api.get("/v1/me", headers=caller.headers)
    await api.get("/healthz", headers=caller.headers)
    await api.get("/v1/nowhere", headers=caller.headers)
    await report(api, supplier)

    buffered = len(usage_app.state.usage)
    body = await report(api, supplier)

    assert buffered == 0
    assert all(entry["used"] == [] for entry in body["accounts"])


async def test_the_last_use_moves_and_the_first_stays(
    api: httpx.AsyncClient, caller: Caller, supplier: Caller
) -> None:
    before = datetime.now(UTC)
    await api.get("/v1/claims", headers=caller.headers)
    (first,) = account_of(await report(api, supplier), caller)["used"]
    await api.get("/v1/claims", headers=caller.headers)

    (second,) = account_of(await report(api, supplier), caller)["used"]

    first_used = datetime.fromisoformat(first["first_used_at"])
    assert before <= first_used <= datetime.fromisoformat(first["last_used_at"])
    assert second["first_used_at"] == first["first_used_at"]
    assert datetime.fromisoformat(second["last_used_at"]) > datetime.fromisoformat(
        first["last_used_at"]
    )
    assert second["requests"] == 2
