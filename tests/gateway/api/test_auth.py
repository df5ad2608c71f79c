from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.accounts.scopes import Scope
from gateway.accounts import service
from gateway.db.tables import ApiKeyRow
from tests.support.factories import Caller, make_caller


async def test_me_answers_with_the_account_of_the_key(
    client: httpx.AsyncClient, caller: Caller
) -> None:
    response = await client.get("/v1/me", headers=caller.headers)

    assert response.status_code == 200
    body = response.json()
    assert body["account"]["id"] == str(caller.account.id)
    assert body["account"]["timezone"] == "Europe/Berlin"
    assert body["key"]["prefix"] == f"pk_{caller.prefix}"
    assert "orders:write" in body["key"]["scopes"]
    assert caller.token not in response.text


async def test_use_is_recorded_as_last_used_time(
    client: httpx.AsyncClient,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await client.get("/v1/me", headers=caller.headers)

    async with sessions() as session:
        last_used = await session.scalar(
            select(ApiKeyRow.last_used_at).where(ApiKeyRow.prefix == caller.prefix)
        )
    assert last_used is not None


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "no header"),
        ({"Authorization": "Bearer "}, "empty bearer"),
        ({"Authorization": "Bearer"}, "bare scheme"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "another scheme"),
        ({"Authorization": "Bearer sk_live_123"}, "another key format"),
        ({"Authorization": "Bearer pk_abcdefgh_" + "A" * 43}, "unknown key"),
        ({"Authorization": "Bearer " + "x" * 2_000}, "an oversized key"),
    ],
)
async def test_bad_credentials_get_a_401_problem(
    client: httpx.AsyncClient, headers: dict[str, str], reason: str
) -> None:
    response = await client.get("/v1/me", headers=headers)

    assert response.status_code == 401, reason
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["code"] == "unauthorized"


async def test_a_revoked_key_fails_at_once(
    client: httpx.AsyncClient,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    assert (await client.get("/v1/me", headers=caller.headers)).status_code == 200

    await service.revoke_key(sessions, f"pk_{caller.prefix}")
    response = await client.get("/v1/me", headers=caller.headers)

    assert response.status_code == 401


async def test_a_key_with_the_right_prefix_but_wrong_secret_is_refused(
    client: httpx.AsyncClient, caller: Caller
) -> None:
    forged = f"pk_{caller.prefix}_" + "B" * 43

    response = await client.get("/v1/me", headers={"Authorization": f"Bearer {forged}"})

    assert response.status_code == 401


async def test_a_missing_scope_is_a_403_naming_it(
    probe_client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    reader = await make_caller(sessions, scopes=frozenset({Scope.ORDERS_READ}))
    writer = await make_caller(sessions, scopes=frozenset({Scope.ORDERS_WRITE}))

    refused = await probe_client.get("/probe/orders-write", headers=reader.headers)
    allowed = await probe_client.get("/probe/orders-write", headers=writer.headers)

    assert refused.status_code == 403
    assert "orders:write" in refused.json()["detail"]
    assert allowed.status_code == 200


async def test_the_account_comes_only_from_the_key(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    mine = await make_caller(sessions, name="Mine")
    theirs = await make_caller(sessions, name="Theirs")

    response = await client.get(
        f"/v1/me?account_id={theirs.account.id}",
        headers={**mine.headers, "X-Account-ID": str(theirs.account.id)},
    )

    assert response.json()["account"]["id"] == str(mine.account.id)


async def test_a_100_kb_header_is_a_431_problem(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/v1/me", headers={"Authorization": "Bearer " + "x" * 100_000}
    )

    assert response.status_code == 431
    assert response.json()["code"] == "headers_too_large"


async def test_admin_covers_the_accounts_scopes_but_never_reports_all(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    admin = await make_caller(sessions, scopes=frozenset({Scope.ADMIN}))

    principal = await service.authenticate(sessions, admin.token, timedelta(seconds=60))

    assert principal is not None
    assert principal.allows(Scope.ORDERS_APPROVE)
    assert not principal.allows(Scope.REPORTS_ALL)
