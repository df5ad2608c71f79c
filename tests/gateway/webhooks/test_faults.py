"""Each fault ends with every event delivered, or failed visibly and
replayable: none is lost."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks import Webhook

from gateway.db.engine import transaction
from gateway.db.tables import OutboxRow, WebhookEndpointRow
from tests.gateway.webhooks.conftest import (
    Worker,
    attempts,
    create_endpoint,
    deliveries,
    dispatcher,
    emit,
    once_due,
)
from tests.gateway.webhooks.receiver import HANG, OK, Answer, Receiver, serving
from tests.support.factories import Caller
from tests.support.processes import free_port

ORDERS = ["order.status_changed"]


async def test_a_receiver_down_for_a_while_gets_every_event_when_it_is_back(
    api: httpx.AsyncClient,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
    worker: Worker,
) -> None:
    port = free_port()
    endpoint = await create_endpoint(
        api, caller, f"http://127.0.0.1:{port}/hook", event_types=ORDERS
    )
    event_ids = [await emit(sessions, caller, f"order-{n}") for n in range(3)]
    await worker.round()
    await worker.round()
    while_down = await deliveries(sessions)

    receiver = Receiver()
    async with serving(receiver, port):
        await worker.until_idle()

    assert [row.status for row in while_down] == ["pending"] * 3
    assert {row.error_class for row in await attempts(sessions)} >= {
        "connection_error",
        None,
    }
    assert [row.status for row in await deliveries(sessions)] == ["delivered"] * 3
    received = {request.headers["webhook-id"] for request in receiver.requests}
    assert received == {str(event_id) for event_id in event_ids}
    for request in receiver.requests:
        Webhook(endpoint["secret"]).verify(request.body, request.headers)


async def test_a_receiver_that_hangs_past_the_timeout_gets_the_same_message_again(
    api: httpx.AsyncClient,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    receiver_url: str,
    worker: Worker,
) -> None:
    await create_endpoint(api, caller, receiver_url, event_types=ORDERS)
    receiver.answer_with(HANG, OK)
    await emit(sessions, caller)
    await worker.fan_out()

    async with dispatcher(sessions, timeout_seconds=0.5) as impatient:
        started = asyncio.get_running_loop().time()
        await impatient.run_once()
        first_round = asyncio.get_running_loop().time() - started
        await impatient.run_once()

    first, second = await receiver.wait_for(2)
    assert first.body == second.body
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert 0.5 <= first_round < 2.0
    timed_out, delivered = await attempts(sessions)
    assert timed_out.error_class == "timeout"
    assert (timed_out.duration_ms or 0) >= 500
    assert delivered.error_class is None
    assert delivered.response_status == 204


async def test_429_with_retry_after_waits_as_asked_within_the_cap(
    api: httpx.AsyncClient,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    receiver_url: str,
    worker: Worker,
) -> None:
    await create_endpoint(api, caller, receiver_url, event_types=ORDERS)
    receiver.answer_with(Answer(429, headers={"Retry-After": "3600"}), OK)
    await emit(sessions, caller)
    await worker.fan_out()

    async with dispatcher(sessions, retry_after_max_seconds=0.6) as polite:
        await polite.run_once()
        [waiting] = await deliveries(sessions)
        too_early = await polite.run_once()
        await once_due(polite)

    first, second = await receiver.wait_for(2)
    assert too_early == 0
    assert waiting.status == "pending"
    assert waiting.next_attempt_at is not None
    assert waiting.next_attempt_at - waiting.updated_at >= timedelta(seconds=0.55)
    assert second.at - first.at >= 0.55
    rate_limited, delivered = await attempts(sessions)
    assert rate_limited.error_class == "rate_limited"
    assert rate_limited.response_status == 429
    assert delivered.response_status == 204


async def test_a_name_that_does_not_resolve_fails_visibly_and_can_be_retried(
    api: httpx.AsyncClient,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
    worker: Worker,
) -> None:
    endpoint = await create_endpoint(
        api, caller, "http://does-not-exist.invalid/hook", event_types=ORDERS
    )
    await emit(sessions, caller)

    await worker.until_idle()
    [failed] = await deliveries(sessions)
    retried = await api.post(
        f"/v1/webhooks/deliveries/{failed.id}/retry", headers=caller.headers
    )

    assert failed.status == "failed"
    assert failed.attempt_count == 5
    assert {row.error_class for row in await attempts(sessions)} == {"dns_error"}
    assert "does-not-exist.invalid" in (failed.last_error or "")
    assert retried.status_code == 202
    assert retried.json()["status"] == "pending"
    assert retried.json()["endpoint_id"] == endpoint["id"]


async def test_a_worker_killed_mid_send_is_redelivered_with_the_same_webhook_id(
    api: httpx.AsyncClient,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    receiver_url: str,
    worker: Worker,
) -> None:
    endpoint = await create_endpoint(api, caller, receiver_url, event_types=ORDERS)
    receiver.answer_with(HANG, OK)
    await emit(sessions, caller)
    await worker.fan_out()
    lease = {"timeout_seconds": 0.5, "lease_seconds": 1.0}

    async with (
        dispatcher(sessions, **lease) as doomed,
        dispatcher(sessions, **lease) as survivor,
    ):
        killed = asyncio.create_task(doomed.run_once())
        await receiver.wait_for(1)
        killed.cancel()
        while_leased = await survivor.run_once()
        await once_due(survivor)

    lost, redelivered = await receiver.wait_for(2)
    assert while_leased == 0
    assert lost.headers["webhook-id"] == redelivered.headers["webhook-id"]
    assert lost.body == redelivered.body
    Webhook(endpoint["secret"]).verify(redelivered.body, redelivered.headers)
    [delivery] = await deliveries(sessions)
    assert delivery.status == "delivered"
    abandoned, delivered = await attempts(sessions)
    assert (abandoned.attempt, abandoned.error_class) == (1, "abandoned")
    assert (delivered.attempt, delivered.response_status) == (2, 204)


async def test_an_internal_address_is_refused_at_once_with_a_clear_error_class(
    api: httpx.AsyncClient,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    receiver_url: str,
    worker: Worker,
) -> None:
    port = receiver_url.rsplit(":", 1)[1]
    await create_endpoint(
        api, caller, f"http://localhost:{port}/hook", event_types=ORDERS
    )
    await emit(sessions, caller)
    await worker.fan_out()

    async with dispatcher(sessions, allowed_targets=[]) as strict:
        await strict.run_once()

    [delivery] = await deliveries(sessions)
    [attempt] = await attempts(sessions)
    assert delivery.status == "failed"
    assert attempt.error_class == "target_refused"
    assert "127.0.0.1" in (attempt.error_detail or "")
    assert receiver.requests == []


async def test_a_410_disables_the_endpoint_and_the_account_hears_of_it(
    api: httpx.AsyncClient,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    receiver_url: str,
    worker: Worker,
) -> None:
    await worker.fan_out()
    gone = await create_endpoint(
        api, caller, f"{receiver_url}/gone", event_types=ORDERS
    )
    watcher = await create_endpoint(
        api, caller, f"{receiver_url}/watch", event_types=["webhook.endpoint_disabled"]
    )
    receiver.answer_with(Answer(410), OK)
    await emit(sessions, caller)

    await worker.until_idle()
    await emit(sessions, caller, "order-2")
    await worker.until_idle()

    endpoint = (
        await api.get(f"/v1/webhooks/endpoints/{gone['id']}", headers=caller.headers)
    ).json()
    assert endpoint["enabled"] is False
    assert "410" in endpoint["disabled_reason"]
    assert [row.status for row in await deliveries(sessions)] == [
        "failed",
        "delivered",
    ]
    assert [request.path for request in receiver.requests] == ["/gone", "/watch"]
    notice = Webhook(watcher["secret"]).verify(
        receiver.requests[1].body, receiver.requests[1].headers
    )
    assert notice["type"] == "webhook.endpoint_disabled"
    assert notice["subject"] == gone["id"]
    assert "secret" not in notice["data"]


async def test_an_endpoint_failing_longer_than_allowed_is_disabled(
    api: httpx.AsyncClient,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    receiver_url: str,
    worker: Worker,
) -> None:
    endpoint = await create_endpoint(api, caller, receiver_url, event_types=ORDERS)
    receiver.answer_with(Answer(500))
    await emit(sessions, caller)
    await worker.round()
    async with transaction(sessions) as session:
        await session.execute(
            update(WebhookEndpointRow).values(
                failing_since=datetime.now(UTC) - timedelta(days=6)
            )
        )

    await worker.round()

    async with sessions() as session:
        row = await session.get(WebhookEndpointRow, endpoint["id"])
        notices = list(
            await session.scalars(
                select(OutboxRow).where(OutboxRow.type == "webhook.endpoint_disabled")
            )
        )
    assert row is not None
    assert row.enabled is False
    assert row.disabled_reason == "every attempt failed for more than 120 hours"
    [notice] = notices
    assert notice.account_id == caller.account.id
    assert notice.data["id"] == endpoint["id"]
    [delivery] = await deliveries(sessions)
    assert delivery.status == "pending", "its delivery waits for re-enabling"


async def test_a_success_stops_the_failure_clock(
    api: httpx.AsyncClient,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    receiver_url: str,
    worker: Worker,
) -> None:
    created = await create_endpoint(api, caller, receiver_url, event_types=ORDERS)
    path = f"/v1/webhooks/endpoints/{created['id']}"
    receiver.answer_with(Answer(500), OK)
    await emit(sessions, caller)

    await worker.round()
    failing = (await api.get(path, headers=caller.headers)).json()
    await worker.round()
    recovered = (await api.get(path, headers=caller.headers)).json()

    assert failing["failing_since"] is not None
    assert failing["last_success_at"] is None
    assert recovered["failing_since"] is None
    assert recovered["last_success_at"] is not None


@pytest.mark.parametrize("status", [302, 307])
async def test_a_redirect_is_not_followed_and_fails_the_attempt_with_its_status(
    api: httpx.AsyncClient,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    receiver_url: str,
    worker: Worker,
    status: int,
) -> None:
    elsewhere = Receiver()
    async with serving(elsewhere) as elsewhere_url:
        await create_endpoint(api, caller, f"{receiver_url}/hook", event_types=ORDERS)
        receiver.answer_with(
            Answer(status, headers={"Location": f"{elsewhere_url}/stolen"})
        )
        await emit(sessions, caller)

        await worker.round()

    [sent] = await receiver.wait_for(1)
    assert sent.path == "/hook"
    assert elsewhere.requests == []
    [attempt] = await attempts(sessions)
    assert attempt.response_status == status
    assert attempt.error_class == "redirect_not_followed"
    assert str(status) in (attempt.error_detail or "")
    [delivery] = await deliveries(sessions)
    assert delivery.status == "pending", "a redirect is retried like any failure"
    assert delivery.attempt_count == 1
    assert delivery.delivered_at is None


async def test_an_endpoint_stored_with_an_impossible_port_fails_alone(
    api: httpx.AsyncClient,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
    worker: Worker,
    receiver: Receiver,
    receiver_url: str,
) -> None:
    """Saved before ports were checked: its deliveries fail for good instead
    of taking the dispatcher's round (and the other endpoints) down."""
    good = await create_endpoint(api, caller, receiver_url, event_types=ORDERS)
    bad = await create_endpoint(
        api, caller, "https://erp.dealer.example/hook", event_types=ORDERS
    )
    async with transaction(sessions) as session:
        await session.execute(
            update(WebhookEndpointRow)
            .where(WebhookEndpointRow.id == bad["id"])
            .values(url="https://erp.dealer.example:99999/hook")
        )
    await emit(sessions, caller, "order-1")

    await worker.until_idle()

    outcome = {str(row.endpoint_id): row.status for row in await deliveries(sessions)}
    assert outcome == {good["id"]: "delivered", bad["id"]: "failed"}
    assert len(receiver.requests) == 1
    assert "target_refused" in {row.error_class for row in await attempts(sessions)}
