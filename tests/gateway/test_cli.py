"""The ``portico`` command as an operator uses it, in its own processes."""

import json
import uuid
from decimal import Decimal

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.db.tables import AccountRow
from tests.support.processes import portico_env, run_portico, serving


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    return portico_env(PORTICO_DATABASE__URL=database_url)


def test_accounts_and_keys_round_trip_as_json(env: dict[str, str]) -> None:
    account = run_portico(
        "accounts", "create", "--name", "Ostsee Handel", "--timezone",
        "Europe/Riga", "--currency", "EUR", "--json", env=env,
    )  # fmt: skip
    account_id = json.loads(account.stdout)["id"]

    created = run_portico(
        "keys", "create", "--account", account_id, "--scope", "orders:read",
        "--scope", "catalog:read", "--json", env=env,
    )  # fmt: skip
    key = json.loads(created.stdout)

    revoked = run_portico("keys", "revoke", key["prefix"], "--json", env=env)

    assert account.returncode == 0, account.stderr
    assert key["key"].startswith(key["prefix"] + "_")
    assert key["scopes"] == ["catalog:read", "orders:read"]
    assert json.loads(revoked.stdout)["revoked_at"] is not None


def test_bad_input_is_named_without_a_traceback(env: dict[str, str]) -> None:
    result = run_portico(
        "accounts", "create", "--name", "X", "--timezone", "Mars/Base",
        "--currency", "EUR", env=env,
    )  # fmt: skip

    assert result.returncode == 1
    assert "Mars/Base" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unknown_scope_lists_the_known_ones(env: dict[str, str]) -> None:
    result = run_portico(
        "keys", "create", "--account", "00000000-0000-0000-0000-000000000000",
        "--scope", "orders:delete", env=env,
    )  # fmt: skip

    assert result.returncode == 1
    assert "orders:delete" in result.stderr
    assert "orders:write" in result.stderr


def test_invalid_settings_stop_start_up_naming_the_setting() -> None:
    env = portico_env(
        PORTICO_DATABASE__POOL_SIZE="many", PORTICO_DATABASE__URL="mysql://db/x"
    )

    result = run_portico("db", "upgrade", env=env)

    assert result.returncode == 2
    assert "PORTICO_DATABASE__POOL_SIZE" in result.stderr
    assert "PORTICO_DATABASE__URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_with_two_workers_answers_over_real_http(env: dict[str, str]) -> None:
    account = run_portico(
        "accounts", "create", "--name", "Served", "--timezone", "UTC",
        "--currency", "USD", "--json", env=env,
    )  # fmt: skip
    created = run_portico(
        "keys", "create", "--account", json.loads(account.stdout)["id"],
        "--scope", "admin", "--json", env=env,
    )  # fmt: skip
    key = json.loads(created.stdout)["key"]

    with serving("--workers", "2", env=env) as base_url:
        me = httpx.get(f"{base_url}/v1/me", headers={"Authorization": f"Bearer {key}"})
        huge = httpx.get(f"{base_url}/v1/me", headers={"X-Big": "x" * 100_000})
        ready = httpx.get(f"{base_url}/readyz")
        docs = httpx.get(f"{base_url}/docs")

    assert me.status_code == 200
    assert me.json()["account"]["name"] == "Served"
    assert huge.status_code in {400, 431}
    assert ready.status_code == 200
    assert docs.status_code == 200


async def test_an_account_can_be_opened_with_an_approval_threshold(
    env: dict[str, str], sessions: async_sessionmaker[AsyncSession]
) -> None:
    result = run_portico(
        "accounts", "create", "--name", "Careful Buyer", "--timezone", "UTC",
        "--currency", "EUR", "--approval-threshold", "2500.00", "--json", env=env,
    )  # fmt: skip
    refused = run_portico(
        "accounts", "create", "--name", "X", "--timezone", "UTC",
        "--currency", "EUR", "--approval-threshold", "lots", env=env,
    )  # fmt: skip

    async with sessions() as session:
        row = await session.get(AccountRow, uuid.UUID(json.loads(result.stdout)["id"]))
    assert row is not None
    assert row.approval_threshold == Decimal("2500.00")
    assert refused.returncode == 1
    assert "--approval-threshold" in refused.stderr
