"""The delivery log: attempts as they happened, filters, pages, retry, replay."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.gateway.webhooks.conftest import (
    Worker,
    create_endpoint,
    deliveries,
    dispatcher,
    emit,
)
from tests.gateway.webhooks.receiver import OK, Answer, Receiver
from tests.support.factories import Caller, make_caller

ORDERS = ["order.status_changed"]


async def log(api: httpx.AsyncClient, caller: Caller, **params: Any) -> dict[str, Any]:
    response = await api.get(
        "/v1/webhooks/deliveries", params=params, headers=caller.headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_each_attempt_is_logged_with_status_duration_and_a_truncated_body(
    api: httpx.AsyncClient,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    receiver_url: str,
    worker: Worker,
) -> None:
    endpoint = await create_endpoint(api, caller, receiver_url, event_types=ORDERS)
    receiver.answer_with(Answer(500, body=b"x" * 100 + b"tail"), OK)
    event_id = await emit(sessions, caller)
    await worker.fan_out()

    async with dispatcher(sessions, response_body_limit=16) as short:
        await short.run_once()
        await short.run_once()
    page = await log(api, caller)

    [delivery] = page["items"]
    assert delivery["event_id"] == str(event_id)
    assert delivery["endpoint_id"] == endpoint["id"]
    assert delivery["status"] == "delivered"
    assert delivery["origin"] == "event"
    failed, succeeded = delivery["attempts"]
    assert failed["attempt"] == 1
    assert failed["response_status"] == 500
    assert failed["response_body"] == "x" * 16
    assert failed["error_class"] == "http_status"
    assert isinstance(failed["duration_ms"], int)
    assert succeeded["response_status"] == 204
    assert succeeded["error_class"] is None
    assert endpoint["secret"] not in str(page)


def secret_forms(secret: str) -> list[str]:
    """The secret as issued and its key alone, without the whsec_ prefix."""
    return [secret, secret.removeprefix("whsec_")]


async def test_secrets_never_reach_the_delivery_log_or_the_logs(
    api: httpx.AsyncClient,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    receiver_url: str,
    worker: Worker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    endpoint = await create_endpoint(api, caller, receiver_url, event_types=ORDERS)
    rotated = await api.post(
        f"/v1/webhooks/endpoints/{endpoint['id']}/rotate-secret",
        headers=caller.headers,
    )
    # Both secrets sign during the grace period: both must stay hidden.
    secrets = secret_forms(endpoint["secret"]) + secret_forms(rotated.json()["secret"])
    receiver.answer_with(Answer(500, body=b"try later"), Answer(500), OK)
    await emit(sessions, caller)
    await worker.fan_out()

    async with dispatcher(sessions, max_attempts=2) as impatient:
        await impatient.run_once()
        await impatient.run_once()
        [failed] = (await log(api, caller, status="failed"))["items"]
        retried = await api.post(
            f"/v1/webhooks/deliveries/{failed['id']}/retry", headers=caller.headers
        )
        await impatient.run_once()
    listed = await api.get("/v1/webhooks/deliveries", headers=caller.headers)
    detail = await api.get(
        f"/v1/webhooks/deliveries/{failed['id']}", headers=caller.headers
    )
    read = await api.get(
        f"/v1/webhooks/endpoints/{endpoint['id']}", headers=caller.headers
    )

    assert rotated.status_code == 200
    assert detail.json()["status"] == "delivered"
    assert [a["response_status"] for a in detail.json()["attempts"]] == [
        500,
        500,
        204,
    ]
    events = {
        record.msg.get("event")
        for record in caplog.records
        if isinstance(record.msg, dict)
    }
    assert {
        "webhook.delivery.retry_scheduled",
        "webhook.delivery.failed",
        "webhook.delivery.delivered",
    } <= events
    logged = caplog.text + "".join(repr(record.__dict__) for record in caplog.records)
    for text in (retried.text, listed.text, detail.text, read.text, logged):
        for secret in secrets:
            assert secret not in text


async def test_a_delivery_out_of_attempts_fails_and_a_retry_starts_a_new_budget(
    api: httpx.AsyncClient,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    receiver_url: str,
    worker: Worker,
) -> None:
    await create_endpoint(api, caller, receiver_url, event_types=ORDERS)
    receiver.answer_with(Answer(500))
    await emit(sessions, caller)
    await worker.until_idle()
    [failed] = (await log(api, caller, status="failed"))["items"]

    receiver.answer_with(OK)
    retried = await api.post(
        f"/v1/webhooks/deliveries/{failed['id']}/retry", headers=caller.headers
    )
    await worker.until_idle()

    delivered = (
        await api.get(f"/v1/webhooks/deliveries/{failed['id']}", headers=caller.headers)
    ).json()
    assert failed["attempt_count"] == 5
    assert failed["next_attempt_at"] is None
    assert retried.status_code == 202
    assert delivered["status"] == "delivered"
    assert [a["attempt"] for a in delivered["attempts"]] == [1, 2, 3, 4, 5, 6]
    ids = {request.headers["webhook-id"] for request in receiver.requests}
    assert ids == {failed["event_id"]}


async def test_the_log_filters_by_endpoint_status_type_and_time(
    api: httpx.AsyncClient,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    receiver_url: str,
    worker: Worker,
) -> None:
    await worker.fan_out()
    first = await create_endpoint(api, caller, f"{receiver_url}/a")
    second = await create_endpoint(
        api, caller, f"{receiver_url}/b", event_types=["order.created"]
    )
    await emit(sessions, caller, "o-1")
    await emit(sessions, caller, "o-2", event_type="order.created")
    await worker.until_idle()
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()

    by_endpoint = await log(api, caller, endpoint_id=second["id"])
    by_type = await log(api, caller, event_type="order.status_changed")
    by_status = await log(api, caller, status="pending")
    in_future = await log(api, caller, since=later)
    before_future = await log(api, caller, until=later)
    unknown_type = await api.get(
        "/v1/webhooks/deliveries",
        params={"event_type": "order.exploded"},
        headers=caller.headers,
    )
    naive_time = await api.get(
        "/v1/webhooks/deliveries",
        params={"since": "2025-03-30T01:30:00"},
        headers=caller.headers,
    )

    assert [d["subject"] for d in by_endpoint["items"]] == ["o-2"]
    assert [(d["endpoint_id"], d["subject"]) for d in by_type["items"]] == [
        (first["id"], "o-1")
    ]
    assert by_status["items"] == []
    assert in_future["items"] == []
    assert len(before_future["items"]) == 3
    assert unknown_type.status_code == 422
    assert naive_time.status_code == 422


#: Aware times whose instant falls off the calendar PostgreSQL and Python hold.
CALENDAR_EDGES = ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00"]


@pytest.mark.parametrize("edge", CALENDAR_EDGES)
async def test_c04_a_time_at_the_calendar_edge_is_a_422_never_a_500(
    api: httpx.AsyncClient, caller: Caller, receiver_url: str, edge: str
) -> None:
    endpoint = await create_endpoint(api, caller, receiver_url)
    replay = f"/v1/webhooks/endpoints/{endpoint['id']}/replay"

    answers = {
        "query.since": await api.get(
            "/v1/webhooks/deliveries", params={"since": edge}, headers=caller.headers
        ),
        "query.until": await api.get(
            "/v1/webhooks/deliveries", params={"until": edge}, headers=caller.headers
        ),
        "body.since": await api.post(
            replay, json={"since": edge}, headers=caller.headers
        ),
        "body.until": await api.post(
            replay,
            json={"since": "2025-01-01T00:00:00Z", "until": edge},
            headers=caller.headers,
        ),
    }

    for location, response in answers.items():
        assert response.status_code == 422, (location, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        [error] = response.json()["errors"]
        assert error["location"] == location


async def test_log_pages_are_newest_first_and_show_each_delivery_once(
    api: httpx.AsyncClient,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
    receiver_url: str,
    worker: Worker,
) -> None:
    await create_endpoint(api, caller, receiver_url, event_types=ORDERS)
    for n in range(5):
        await emit(sessions, caller, f"o-{n}")
    await worker.until_idle()
    seen: list[str] = []
    cursor = None

    for _ in range(5):
        page = await log(api, caller, limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [item["subject"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == ["o-4", "o-3", "o-2", "o-1", "o-0"]


async def test_c10_another_accounts_deliveries_are_not_found(
    api: httpx.AsyncClient,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
    receiver_url: str,
    worker: Worker,
) -> None:
    await create_endpoint(api, caller, receiver_url, event_types=ORDERS)
    for n in range(2):
        await emit(sessions, caller, f"o-{n}")
    await worker.until_idle()
    mine = await log(api, caller, limit=1)
    other = await make_caller(sessions, name="Other Dealer")
    delivery_id = mine["items"][0]["id"]

    read = await api.get(
        f"/v1/webhooks/deliveries/{delivery_id}", headers=other.headers
    )
    retry = await api.post(
        f"/v1/webhooks/deliveries/{delivery_id}/retry", headers=other.headers
    )
    listed = await log(api, other)
    cursor = await api.get(
        "/v1/webhooks/deliveries",
        params={"cursor": mine["next_cursor"]},
        headers=other.headers,
    )

    assert read.status_code == 404
    assert retry.status_code == 404
    assert listed["items"] == []
    assert cursor.status_code == 422


async def test_a_replay_resends_the_window_with_the_original_bytes_and_ids(
    api: httpx.AsyncClient,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    receiver_url: str,
    worker: Worker,
) -> None:
    endpoint = await create_endpoint(api, caller, receiver_url, event_types=ORDERS)
    for n in range(3):
        await emit(sessions, caller, f"o-{n}")
    await worker.until_idle()
    originals = {r.headers["webhook-id"]: r.body for r in receiver.requests}
    receiver.requests.clear()
    since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()

    replayed = await api.post(
        f"/v1/webhooks/endpoints/{endpoint['id']}/replay",
        json={"since": since},
        headers=caller.headers,
    )
    await worker.until_idle()
    empty_window = await api.post(
        f"/v1/webhooks/endpoints/{endpoint['id']}/replay",
        json={"since": since, "until": since},
        headers=caller.headers,
    )

    assert replayed.status_code == 202
    assert replayed.json() == {"deliveries": 3}
    again = {r.headers["webhook-id"]: r.body for r in receiver.requests}
    assert again == originals
    rows = await deliveries(sessions)
    assert [row.origin for row in rows] == ["event"] * 3 + ["replay"] * 3
    assert {row.status for row in rows} == {"delivered"}
    assert empty_window.status_code == 422


async def test_a_replay_leaves_events_not_yet_fanned_out_to_the_fan_out(
    api: httpx.AsyncClient,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    receiver_url: str,
    worker: Worker,
) -> None:
    endpoint = await create_endpoint(api, caller, receiver_url, event_types=ORDERS)
    await emit(sessions, caller, "o-1")
    await worker.sequencer.run_until_idle()

    replayed = await api.post(
        f"/v1/webhooks/endpoints/{endpoint['id']}/replay",
        json={"since": "2020-01-01T00:00:00Z"},
        headers=caller.headers,
    )
    await worker.until_idle()

    assert replayed.json() == {"deliveries": 0}
    assert len(receiver.requests) == 1
