"""Several dispatchers share the work: no double sends, per-endpoint caps and
strict per-entity ordering hold across them."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime

import httpx
import orjson
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.webhooks.dispatcher import WebhookDispatcher
from gateway.webhooks.queue import DeliveryQueue, LeasedDelivery, Outcome
from gateway.webhooks.retries import RetrySchedule
from gateway.webhooks.transport import AttemptResult
from tests.gateway.webhooks.conftest import (
    Worker,
    attempts,
    create_endpoint,
    deliveries,
    dispatcher,
    emit,
    quick_settings,
)
from tests.gateway.webhooks.receiver import OK, Answer, Receiver
from tests.support.factories import Caller

ORDERS = ["order.status_changed"]


async def side_by_side(*replicas: WebhookDispatcher) -> list[int]:
    """Rounds in which every replica leases and sends at the same time, until
    a round in which none finds work; what each leased in each round."""
    leased: list[int] = []
    for _ in range(50):
        this_round = await asyncio.gather(*(replica.run_once() for replica in replicas))
        leased += this_round
        if not any(this_round):
            break
    return leased


async def test_two_dispatchers_share_deliveries_without_sending_one_twice(
    api: httpx.AsyncClient,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    receiver_url: str,
    worker: Worker,
) -> None:
    for n in range(4):
        await create_endpoint(api, caller, f"{receiver_url}/{n}", event_types=ORDERS)
    receiver.answer_with(Answer(204, delay=0.02))
    for n in range(15):
        await emit(sessions, caller, f"order-{n}")
    await worker.fan_out()

    async with (
        dispatcher(sessions, dispatch_batch=7) as first,
        dispatcher(sessions, dispatch_batch=7) as second,
    ):
        leased = await side_by_side(first, second)

    sent = Counter(
        (request.path, request.headers["webhook-id"]) for request in receiver.requests
    )
    assert len(sent) == 60
    assert set(sent.values()) == {1}
    assert sum(leased) == 60
    assert {row.status for row in await deliveries(sessions)} == {"delivered"}


async def test_an_endpoints_concurrency_cap_holds_across_dispatchers(
    api: httpx.AsyncClient,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    receiver_url: str,
    worker: Worker,
) -> None:
    await create_endpoint(
        api, caller, receiver_url, event_types=ORDERS, max_concurrency=2
    )
    receiver.answer_with(Answer(204, delay=0.3))
    for n in range(6):
        await emit(sessions, caller, f"order-{n}")
    await worker.fan_out()

    async with dispatcher(sessions) as first, dispatcher(sessions) as second:
        sending = asyncio.create_task(first.run_once())
        await receiver.wait_for(2)
        while_full = await second.run_once()
        leased_first = await sending
        leased = await side_by_side(first, second)

    assert (leased_first, while_full) == (2, 0)
    assert max(leased) == 2
    assert len(receiver.requests) == 6
    assert receiver.most_in_flight == 2


async def test_strict_ordering_sends_one_subjects_events_one_at_a_time_in_order(
    api: httpx.AsyncClient,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    receiver_url: str,
    worker: Worker,
) -> None:
    await create_endpoint(
        api, caller, receiver_url, event_types=ORDERS, strict_ordering=True
    )
    receiver.answer_with(Answer(500), Answer(500), OK)
    for n in range(3):
        await emit(sessions, caller, "order-A", {"n": n})
    await emit(sessions, caller, "order-B", {"n": 0})

    per_round = []
    for _ in range(6):
        per_round.append(await worker.round())

    sent = [orjson.loads(request.body) for request in receiver.requests]
    order_a = [event["data"]["n"] for event in sent if event["subject"] == "order-A"]
    assert per_round == [2, 2, 1, 1, 0, 0]
    assert order_a == [0, 0, 1, 2]
    assert {row.status for row in await deliveries(sessions)} == {"delivered"}


async def test_without_strict_ordering_a_subjects_events_go_out_together(
    api: httpx.AsyncClient,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
    receiver_url: str,
    worker: Worker,
) -> None:
    await create_endpoint(api, caller, receiver_url, event_types=ORDERS)
    for n in range(3):
        await emit(sessions, caller, "order-A", {"n": n})

    first_round = await worker.round()

    assert first_round == 3


async def test_a_result_from_an_expired_lease_does_not_overwrite_the_newer_one(
    api: httpx.AsyncClient,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
    worker: Worker,
) -> None:
    await create_endpoint(
        api, caller, "https://erp.dealer.example/", event_types=ORDERS
    )
    await emit(sessions, caller)
    await worker.fan_out()
    queue = DeliveryQueue(sessions)
    [stale] = await queue.lease(1, lease_seconds=0.05)
    await asyncio.sleep(0.1)
    [current] = await queue.lease(1, lease_seconds=60)
    schedule = RetrySchedule(quick_settings())

    late = await queue.record([outcome(stale, 204, schedule)], 120)
    after_late = await deliveries(sessions)
    on_time = await queue.record([outcome(current, 500, schedule)], 120)

    assert late.applied == frozenset()
    assert after_late[0].status == "pending"
    assert after_late[0].lease_token == current.lease_token
    assert on_time.applied == {current.id}
    [delivery] = await deliveries(sessions)
    assert delivery.status == "pending"
    assert delivery.lease_token is None
    logged = [(a.attempt, a.error_class) for a in await attempts(sessions)]
    assert logged == [(1, "abandoned"), (1, None), (2, "http_status")]


def outcome(delivery: LeasedDelivery, status: int, schedule: RetrySchedule) -> Outcome:
    result = AttemptResult(
        started_at=datetime.now(UTC),
        duration_ms=3,
        status=status,
        error_class=None if status < 300 else "http_status",
        error_detail=None if status < 300 else f"the receiver answered {status}",
    )
    return Outcome(delivery, result, schedule.next_step(result, delivery.attempts_used))
