"""Events reach the right endpoints, signed over the exact bytes sent (C12)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks import Webhook, WebhookVerificationError

from gateway.db.engine import plain_url
from gateway.events.notifier import Notifier
from gateway.events.outbox import record_event
from gateway.orders.submission import OrderSubmitter
from gateway.settings import WorkerSettings
from gateway.webhooks.messages import DELIVERIES_CHANNEL
from tests.gateway.orders.conftest import linked_caller, order_body
from tests.gateway.webhooks.conftest import Worker, create_endpoint, deliveries, emit
from tests.gateway.webhooks.receiver import Answer, Receiver
from tests.support.backends import InMemoryErp
from tests.support.factories import Caller, make_caller

C12_DATA: dict[str, Any] = {
    "note": "Счёт-фактура №12 для ООО «Ромашка»",  # noqa: RUF001
    "total": {"amount": "10.50", "currency": "RUB"},
    "lines": [
        {"sku": "P1", "price": {"amount": "10.50", "currency": "RUB"}, "qty": 1},
        {"sku": "Ж-2", "attributes": {"цвет": "синий", "nested": {"deep": [1, 2]}}},
    ],
}


async def test_c12_every_retry_carries_the_same_bytes_and_id_and_verifies(
    api: httpx.AsyncClient,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
    worker: Worker,
    receiver: Receiver,
    receiver_url: str,
) -> None:
    endpoint = await create_endpoint(
        api, caller, f"{receiver_url}/hooks", event_types=["order.status_changed"]
    )
    receiver.answer_with(Answer(500), Answer(503), Answer(204))
    event_id = await emit(sessions, caller, data=C12_DATA)

    await worker.until_idle()

    requests = await receiver.wait_for(3)
    assert len(requests) == 3
    assert {request.body for request in requests} == {requests[0].body}
    assert {request.headers["webhook-id"] for request in requests} == {str(event_id)}
    for request in requests:
        payload = Webhook(endpoint["secret"]).verify(request.body, request.headers)
        assert payload["data"] == C12_DATA
    assert "Счёт-фактура №12".encode() in requests[0].body
    assert b'"amount":"10.50"' in requests[0].body
    [delivery] = await deliveries(sessions)
    assert delivery.status == "delivered"
    assert delivery.attempt_count == 3


async def test_c12_a_verifier_rejects_the_body_once_it_is_reserialised(
    api: httpx.AsyncClient,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
    worker: Worker,
    receiver: Receiver,
    receiver_url: str,
) -> None:
    endpoint = await create_endpoint(
        api, caller, receiver_url, event_types=["order.status_changed"]
    )
    await emit(sessions, caller, data=C12_DATA)
    await worker.until_idle()
    [request] = await receiver.wait_for(1)

    reserialised = orjson.dumps(orjson.loads(request.body), option=orjson.OPT_INDENT_2)

    verifier = Webhook(endpoint["secret"])
    assert verifier.verify(request.body, request.headers)
    with pytest.raises(WebhookVerificationError):
        verifier.verify(reserialised, request.headers)


async def test_real_order_events_verify_with_the_reference_implementation(
    api: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    erp: InMemoryErp,
    worker: Worker,
    receiver: Receiver,
    receiver_url: str,
) -> None:
    dealer = await linked_caller(sessions)
    await worker.fan_out()  # the account's own account.created
    endpoint = await create_endpoint(api, dealer, receiver_url)
    placed = await api.post(
        "/v1/orders",
        json=order_body(("P1", 2), customer_reference="ПЗ-2025/7"),
        headers={**dealer.headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert placed.status_code == 201, placed.text
    await OrderSubmitter(sessions, erp, "erp", WorkerSettings()).run_once()

    await worker.until_idle()

    requests = await receiver.wait_for(2)
    verified = [
        Webhook(endpoint["secret"]).verify(request.body, request.headers)
        for request in requests
    ]
    order_events = [event for event in verified if event["type"].startswith("order.")]
    assert [event["type"] for event in order_events] == [
        "order.created",
        "order.status_changed",
    ]
    accepted = order_events[1]["data"]
    assert accepted["id"] == placed.json()["id"]
    assert accepted["status"] == "accepted"
    assert accepted["customer_reference"] == "ПЗ-2025/7"
    assert accepted["total"]["amount"] == "21.00"
    assert all(event["subject"] == placed.json()["id"] for event in order_events)


async def test_only_enabled_matching_endpoints_of_the_same_account_get_an_event(
    api: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    worker: Worker,
    receiver: Receiver,
    receiver_url: str,
) -> None:
    mine = await make_caller(sessions, name="Mine")
    theirs = await make_caller(sessions, name="Theirs")
    await worker.fan_out()  # the accounts' own account.created
    everything = await create_endpoint(api, mine, f"{receiver_url}/all")
    await create_endpoint(
        api, mine, f"{receiver_url}/orders", event_types=["order.status_changed"]
    )
    await create_endpoint(
        api, mine, f"{receiver_url}/accounts", event_types=["account.created"]
    )
    await create_endpoint(api, mine, f"{receiver_url}/off", enabled=False)
    await create_endpoint(api, theirs, f"{receiver_url}/theirs")

    event_id = await emit(sessions, mine, "order-9")
    await worker.until_idle()

    assert sorted(request.path for request in receiver.requests) == [
        "/all",
        "/orders",
    ]
    assert {request.headers["webhook-id"] for request in receiver.requests} == {
        str(event_id)
    }
    sent = [row for row in await deliveries(sessions) if row.event_id == event_id]
    assert {str(row.endpoint_id) for row in sent} >= {everything["id"]}
    assert all(row.account_id == mine.account.id for row in sent)


async def test_an_event_committed_late_is_still_delivered(
    api: httpx.AsyncClient,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
    worker: Worker,
    receiver: Receiver,
    receiver_url: str,
) -> None:
    await create_endpoint(
        api, caller, receiver_url, event_types=["order.status_changed"]
    )
    early = sessions()
    await early.begin()
    await record_event(
        early,
        event_type="order.status_changed",
        account_id=caller.account.id,
        subject="order-101",
        data={"n": 101},
    )
    await early.flush()
    await emit(sessions, caller, "order-102")
    await worker.until_idle()

    await early.commit()
    await early.close()
    await worker.until_idle()

    subjects = [orjson.loads(request.body)["subject"] for request in receiver.requests]
    assert subjects == ["order-102", "order-101"]


async def test_the_test_ping_is_signed_and_never_an_outbox_event(
    api: httpx.AsyncClient,
    caller: Caller,
    worker: Worker,
    receiver: Receiver,
    receiver_url: str,
) -> None:
    await worker.fan_out()  # the account's own account.created
    endpoint = await create_endpoint(api, caller, receiver_url)

    queued = await api.post(
        f"/v1/webhooks/endpoints/{endpoint['id']}/test", headers=caller.headers
    )
    await worker.dispatcher.run_once()

    assert queued.status_code == 202
    [request] = await receiver.wait_for(1)
    ping = Webhook(endpoint["secret"]).verify(request.body, request.headers)
    assert ping["type"] == "webhook.ping"
    assert ping["id"] == request.headers["webhook-id"] == queued.json()["event_id"]
    feed = await api.get("/v1/events", headers=caller.headers)
    assert "webhook.ping" not in {event["type"] for event in feed.json()["events"]}


async def test_queued_deliveries_wake_listening_dispatchers(
    api: httpx.AsyncClient, caller: Caller, database_url: str
) -> None:
    endpoint = await create_endpoint(api, caller, "https://erp.dealer.example/")
    notifier = Notifier(plain_url(database_url), DELIVERIES_CHANNEL)
    notifier.start()
    try:
        assert await notifier.wait(5)  # listening
        woken = asyncio.create_task(notifier.wait(5))
        await asyncio.sleep(0)

        await api.post(
            f"/v1/webhooks/endpoints/{endpoint['id']}/test", headers=caller.headers
        )

        assert await woken
    finally:
        await notifier.stop()
