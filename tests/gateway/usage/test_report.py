"""The supplier's report: what is unused, who may read it, and its pages."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.accounts.scopes import DEALER_SCOPES, Scope
from gateway.usage.capabilities import CAPABILITIES
from tests.gateway.usage.conftest import account_of, report
from tests.support.factories import Caller, make_caller

ALL = [capability.value for capability in CAPABILITIES]


async def test_unused_lists_overall_and_per_account(
    api: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    supplier: Caller,
) -> None:
    buyer = await make_caller(sessions, name="Buyer")
    idle = await make_caller(sessions, name="Idle")
    await api.get("/v1/orders", headers=buyer.headers)
    await api.get("/v1/webhooks/endpoints", headers=buyer.headers)

    body = await report(api, supplier)

    assert body["capabilities"] == ALL
    assert body["unused"] == [c for c in ALL if c not in {"orders", "webhooks"}]
    assert account_of(body, buyer)["unused"] == body["unused"]
    assert account_of(body, idle)["unused"] == ALL
    assert account_of(body, idle)["used"] == []


async def test_a_capability_used_by_any_account_is_not_unused_overall(
    api: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    supplier: Caller,
) -> None:
    first = await make_caller(sessions, name="First")
    second = await make_caller(sessions, name="Second")
    await api.get("/v1/orders", headers=first.headers)
    await api.get("/v1/events", headers=second.headers)

    body = await report(api, supplier, limit=1)

    # The page holds one account, the supplier's; the overall list spans all.
    assert len(body["accounts"]) == 1
    assert "orders" not in body["unused"]
    assert "events" not in body["unused"]


async def test_a_dealer_key_even_with_admin_gets_403(
    api: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    caller: Caller,
) -> None:
    admin_only = await make_caller(
        sessions, name="Admin only", scopes=frozenset({Scope.ADMIN})
    )

    responses = [
        await api.get("/v1/admin/usage", headers=key.headers)
        for key in (caller, admin_only)
    ]

    assert Scope.ADMIN in DEALER_SCOPES
    for response in responses:
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "forbidden"
        assert "reports:all" in response.json()["detail"]


async def test_the_report_without_a_key_gets_401(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/admin/usage")

    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


async def test_accounts_page_by_name_with_cursors(
    api: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    supplier: Caller,
) -> None:
    for name in ("Echo", "Alpha", "Delta", "Charlie", "Bravo"):
        await make_caller(sessions, name=name)
    seen: list[str] = []
    pages = 0
    cursor: str | None = None

    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        body = await report(api, supplier, **params)
        pages += 1
        seen.extend(entry["name"] for entry in body["accounts"])
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert seen == [
        "AAA Supplier Reporting",
        "Alpha",
        "Bravo",
        "Charlie",
        "Delta",
        "Echo",
    ]
    assert pages == 3


async def test_a_tampered_or_foreign_cursor_is_a_422_problem(
    api: httpx.AsyncClient,
    usage_app: FastAPI,
    sessions: async_sessionmaker[AsyncSession],
    supplier: Caller,
) -> None:
    await make_caller(sessions, name="Zulu")
    cursor = (await report(api, supplier, limit=1))["next_cursor"]
    other_supplier = await make_caller(
        sessions, name="Other", scopes=frozenset({Scope.REPORTS_ALL})
    )
    # Signed by this deployment, for the same caller, but another listing.
    orders_cursor = usage_app.state.cursors.encode(
        "orders:-created_at", supplier.account.id, ["Zulu", str(uuid.uuid4())]
    )
    # Signed for this listing, with a position that is not one.
    odd_position = usage_app.state.cursors.encode(
        "usage:accounts", supplier.account.id, [1, "not-a-uuid"]
    )

    answers = [
        await api.get("/v1/admin/usage", headers=key.headers, params={"cursor": value})
        for key, value in (
            (supplier, cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB")),
            (other_supplier, cursor),
            (supplier, orders_cursor),
            (supplier, odd_position),
            (supplier, "not a cursor"),
        )
    ]

    assert cursor is not None
    for answer in answers:
        assert answer.status_code == 422, answer.text
        assert answer.json()["code"] == "invalid_input"
