"""The endpoints API: validation, secrets shown once, rotation, isolation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks import Webhook, WebhookVerificationError

from domain.accounts.scopes import Scope
from gateway.db.engine import transaction
from gateway.db.tables import WebhookEndpointRow
from gateway.webhooks.routes import get_webhook_settings
from gateway.webhooks.settings import WebhookSettings
from tests.gateway.webhooks.conftest import Worker, create_endpoint, emit
from tests.gateway.webhooks.receiver import Receiver
from tests.support.factories import Caller, make_caller

PUBLIC = "https://erp.dealer.example/portico"


async def test_a_new_endpoint_shows_its_secret_once(
    api: httpx.AsyncClient, caller: Caller
) -> None:
    created = await create_endpoint(
        api,
        caller,
        PUBLIC,
        event_types=["order.status_changed", "order.created"],
        description="Nordwind ERP",
    )

    read = await api.get(
        f"/v1/webhooks/endpoints/{created['id']}", headers=caller.headers
    )
    listed = await api.get("/v1/webhooks/endpoints", headers=caller.headers)

    assert created["secret"].startswith("whsec_")
    assert created["event_types"] == ["order.status_changed", "order.created"]
    assert created["max_concurrency"] == 10
    assert created["enabled"] is True
    assert read.status_code == 200
    assert created["secret"] not in read.text
    assert "secret" not in read.json()
    assert created["secret"] not in listed.text
    assert [item["id"] for item in listed.json()["items"]] == [created["id"]]


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://erp.dealer.example/", "not a web address"),
        ("https://10.1.2.3/hook", "internal address"),
        ("https://169.254.169.254/latest/meta-data", "internal address"),
        ("https://[fd00:ec2::254]/", "internal address"),
        ("https://user:pw@erp.dealer.example/", "user name or password"),
        ("https:///nohost", "host"),
        ("https://erp.dealer.example/#frag", "fragment"),
    ],
)
async def test_urls_that_must_not_be_called_are_refused(
    api: httpx.AsyncClient, caller: Caller, url: str, why: str
) -> None:
    response = await api.post(
        "/v1/webhooks/endpoints", json={"url": url}, headers=caller.headers
    )

    assert response.status_code == 422
    assert why in response.json()["detail"]


async def test_plain_http_is_refused_unless_the_deployment_allows_it(
    api: httpx.AsyncClient, caller: Caller, webhooks_app: FastAPI
) -> None:
    webhooks_app.dependency_overrides[get_webhook_settings] = lambda: WebhookSettings()

    response = await api.post(
        "/v1/webhooks/endpoints",
        json={"url": "http://erp.dealer.example/"},
        headers=caller.headers,
    )

    assert response.status_code == 422
    assert response.json()["detail"] == "only https:// endpoints may be called"


async def test_unknown_event_types_are_refused_with_the_catalog(
    api: httpx.AsyncClient, caller: Caller
) -> None:
    response = await api.post(
        "/v1/webhooks/endpoints",
        json={"url": PUBLIC, "event_types": ["order.exploded"]},
        headers=caller.headers,
    )

    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "order.exploded" in detail
    assert "webhook.endpoint_disabled" in detail


async def test_patch_changes_only_the_fields_sent(
    api: httpx.AsyncClient, caller: Caller
) -> None:
    created = await create_endpoint(
        api, caller, PUBLIC, description="old", max_concurrency=3
    )

    changed = await api.patch(
        f"/v1/webhooks/endpoints/{created['id']}",
        json={"event_types": ["order.created"], "description": None},
        headers=caller.headers,
    )
    nulled = await api.patch(
        f"/v1/webhooks/endpoints/{created['id']}",
        json={"url": None},
        headers=caller.headers,
    )

    assert changed.status_code == 200
    body = changed.json()
    assert body["event_types"] == ["order.created"]
    assert body["description"] is None
    assert body["url"] == PUBLIC
    assert body["max_concurrency"] == 3
    assert nulled.status_code == 422


async def test_re_enabling_a_disabled_endpoint_sends_what_waited(
    api: httpx.AsyncClient,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    receiver_url: str,
    worker: Worker,
) -> None:
    created = await create_endpoint(
        api, caller, receiver_url, event_types=["order.status_changed"]
    )
    await emit(sessions, caller)
    await worker.fan_out()
    async with transaction(sessions) as session:
        await session.execute(
            update(WebhookEndpointRow).values(
                enabled=False, disabled_reason="the receiver answered 410 Gone"
            )
        )
    while_disabled = await worker.round()

    enabled = await api.patch(
        f"/v1/webhooks/endpoints/{created['id']}",
        json={"enabled": True},
        headers=caller.headers,
    )
    await worker.until_idle()

    assert while_disabled == 0
    assert enabled.json()["disabled_reason"] is None
    assert len(receiver.requests) == 1


async def test_after_rotation_both_secrets_verify_until_the_grace_period_ends(
    api: httpx.AsyncClient,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    receiver_url: str,
    worker: Worker,
) -> None:
    created = await create_endpoint(
        api, caller, receiver_url, event_types=["order.status_changed"]
    )
    rotated = await api.post(
        f"/v1/webhooks/endpoints/{created['id']}/rotate-secret",
        headers=caller.headers,
    )
    new_secret = rotated.json()["secret"]
    await emit(sessions, caller, "during-grace")
    await worker.until_idle()
    async with transaction(sessions) as session:
        await session.execute(
            update(WebhookEndpointRow).values(
                previous_secret_expires_at=datetime.now(UTC) - timedelta(seconds=1)
            )
        )
    await emit(sessions, caller, "after-grace")
    await worker.until_idle()

    during, after = await receiver.wait_for(2)
    assert rotated.status_code == 200
    assert new_secret != created["secret"]
    expires = datetime.fromisoformat(rotated.json()["previous_secret_expires_at"])
    assert timedelta(hours=23) < expires - datetime.now(UTC) <= timedelta(hours=24)
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    Webhook(created["secret"]).verify(during.body, during.headers)
    Webhook(new_secret).verify(during.body, during.headers)
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    Webhook(new_secret).verify(after.body, after.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(created["secret"]).verify(after.body, after.headers)


async def test_a_deleted_endpoint_is_gone_with_its_log(
    api: httpx.AsyncClient, caller: Caller
) -> None:
    created = await create_endpoint(api, caller, PUBLIC)

    deleted = await api.delete(
        f"/v1/webhooks/endpoints/{created['id']}", headers=caller.headers
    )
    again = await api.delete(
        f"/v1/webhooks/endpoints/{created['id']}", headers=caller.headers
    )

    assert deleted.status_code == 204
    assert again.status_code == 404


async def test_an_idempotent_create_makes_one_endpoint_and_replays_the_answer(
    api: httpx.AsyncClient, caller: Caller
) -> None:
    headers = {**caller.headers, "Idempotency-Key": str(uuid.uuid4())}
    body = {"url": PUBLIC, "event_types": ["order.created"]}

    first = await api.post("/v1/webhooks/endpoints", json=body, headers=headers)
    second = await api.post("/v1/webhooks/endpoints", json=body, headers=headers)
    listed = await api.get("/v1/webhooks/endpoints", headers=caller.headers)

    assert first.status_code == second.status_code == 201
    assert first.content == second.content
    assert second.headers["location"] == f"/v1/webhooks/endpoints/{first.json()['id']}"
    assert len(listed.json()["items"]) == 1


async def test_endpoint_pages_show_each_endpoint_once(
    api: httpx.AsyncClient, caller: Caller
) -> None:
    created = [await create_endpoint(api, caller, f"{PUBLIC}/{n}") for n in range(5)]
    seen: list[str] = []
    cursor = None

    for _ in range(5):
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (
            await api.get(
                "/v1/webhooks/endpoints", params=params, headers=caller.headers
            )
        ).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == [endpoint["id"] for endpoint in created]


async def test_c10_another_accounts_endpoints_and_cursors_are_not_found(
    api: httpx.AsyncClient,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    mine = await create_endpoint(api, caller, PUBLIC)
    for n in range(3):
        await create_endpoint(api, caller, f"{PUBLIC}/{n}")
    my_cursor = (
        await api.get(
            "/v1/webhooks/endpoints", params={"limit": 1}, headers=caller.headers
        )
    ).json()["next_cursor"]
    other = await make_caller(sessions, name="Other Dealer")
    path = f"/v1/webhooks/endpoints/{mine['id']}"

    answers = [
        await api.get(path, headers=other.headers),
        await api.patch(path, json={"enabled": False}, headers=other.headers),
        await api.delete(path, headers=other.headers),
        await api.post(f"{path}/rotate-secret", headers=other.headers),
        await api.post(f"{path}/test", headers=other.headers),
        await api.post(
            f"{path}/replay",
            json={"since": "2025-01-01T00:00:00+00:00"},
            headers=other.headers,
        ),
    ]
    foreign_cursor = await api.get(
        "/v1/webhooks/endpoints", params={"cursor": my_cursor}, headers=other.headers
    )
    theirs = await api.get("/v1/webhooks/endpoints", headers=other.headers)

    assert [answer.status_code for answer in answers] == [404] * 6
    assert foreign_cursor.status_code == 422
    assert theirs.json()["items"] == []


async def test_webhooks_need_their_scopes(
    api: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    reader = await make_caller(
        sessions, name="Reader", scopes=frozenset({Scope.WEBHOOKS_READ})
    )
    outsider = await make_caller(
        sessions, name="Outsider", scopes=frozenset({Scope.ORDERS_READ})
    )

    create = await api.post(
        "/v1/webhooks/endpoints", json={"url": PUBLIC}, headers=reader.headers
    )
    read = await api.get("/v1/webhooks/deliveries", headers=outsider.headers)
    allowed = await api.get("/v1/webhooks/endpoints", headers=reader.headers)

    assert create.status_code == 403
    assert read.status_code == 403
    assert allowed.status_code == 200


HOSTILE_URLS = [
    ("https://xn--/", "no punycode"),
    ("https://xn--a.dealer.example/", "a control character"),
    ("https://xn--zz-.dealer.example/", "ends with a hyphen"),
    ("https://xn--ls8h.la/", "an emoji, not allowed in IDNA 2008"),
    ("https://xn--55555555.dealer.example/", "not punycode at all"),
    ("https://erp.dealer.example:0/hook", "port 0"),
    ("https://erp.dealer.example:65536/hook", "one past the last port"),
    ("https://erp.dealer.example:99999/hook", "wraps to 34463 on connect"),
]


def names_the_url(response: httpx.Response) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert body["code"] == "invalid_input"  # as every other refused URL
    assert [error["location"] for error in body["errors"]] == ["url"]


@pytest.mark.parametrize(("url", "why"), HOSTILE_URLS)
async def test_hostile_hosts_and_impossible_ports_are_a_422_naming_the_url(
    api: httpx.AsyncClient, caller: Caller, url: str, why: str
) -> None:
    response = await api.post(
        "/v1/webhooks/endpoints", json={"url": url}, headers=caller.headers
    )
    listed = await api.get("/v1/webhooks/endpoints", headers=caller.headers)

    names_the_url(response)
    assert listed.json()["items"] == [], why


@pytest.mark.parametrize(("url", "why"), HOSTILE_URLS)
async def test_patching_in_a_hostile_url_is_a_422_and_changes_nothing(
    api: httpx.AsyncClient, caller: Caller, url: str, why: str
) -> None:
    created = await create_endpoint(api, caller, PUBLIC)

    response = await api.patch(
        f"/v1/webhooks/endpoints/{created['id']}",
        json={"url": url},
        headers=caller.headers,
    )
    read = await api.get(
        f"/v1/webhooks/endpoints/{created['id']}", headers=caller.headers
    )

    names_the_url(response)
    assert read.json()["url"] == PUBLIC, why


async def test_the_first_and_last_ports_are_accepted(
    api: httpx.AsyncClient, caller: Caller
) -> None:
    first = await create_endpoint(api, caller, "https://erp.dealer.example:1/hook")
    last = await create_endpoint(api, caller, "https://erp.dealer.example:65535/hook")

    assert first["url"] == "https://erp.dealer.example:1/hook"
    assert last["url"] == "https://erp.dealer.example:65535/hook"


async def test_an_overlong_idempotency_key_is_refused_as_orders_refuse_it(
    api: httpx.AsyncClient, caller: Caller
) -> None:
    response = await api.post(
        "/v1/webhooks/endpoints",
        json={"url": PUBLIC},
        headers={**caller.headers, "Idempotency-Key": "k" * 256},
    )
    longest = await api.post(
        "/v1/webhooks/endpoints",
        json={"url": PUBLIC},
        headers={**caller.headers, "Idempotency-Key": "k" * 255},
    )

    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_idempotency_key"
    assert longest.status_code == 201
