"""The write-through worker and the sync poller against the ERP twin."""

import asyncio
import uuid
from decimal import Decimal

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.backends import BackendRejectedError, BackendTimeoutError
from domain.orders.erp import (
    ErpLineTerms,
    ErpOrderReceipt,
    ErpOrderRequest,
    ErpOrderState,
)
from gateway.db.tables import OutboxRow
from gateway.orders.submission import OrderSubmitter
from gateway.orders.sync import OrderSync
from gateway.settings import WorkerSettings
from tests.gateway.orders.conftest import Worker, events, order_body, place
from tests.support.backends import Behaviour, InMemoryErp
from tests.support.factories import Caller


async def test_a_permanent_erp_refusal_rejects_the_order_with_its_reason(
    api: httpx.AsyncClient, dealer: Caller, erp: InMemoryErp, worker: Worker
) -> None:
    refusal = BackendRejectedError("erp", "submit_order", "customer TPCH-1 is blocked")
    erp.behaviour["submit_order"] = Behaviour(error=refusal)
    order_id = (await place(api, dealer, order_body(("P1", 1)))).json()["id"]

    await worker.submit()
    order = (await api.get(f"/v1/orders/{order_id}", headers=dealer.headers)).json()

    assert order["status"] == "rejected"
    assert order["rejection_reason"] == "customer TPCH-1 is blocked"
    assert order["timeline"][-1]["source"] == "erp"


class TimesOutAfterTaking(InMemoryErp):
    """An ERP that creates the order and then fails to answer in time."""

    async def submit_order(self, request: ErpOrderRequest) -> ErpOrderReceipt:
        await super().submit_order(request)
        raise BackendTimeoutError("erp", "submit_order", "no answer within 5 s")


async def test_a_retry_after_a_timeout_adopts_the_erp_order_instead_of_a_second(
    api: httpx.AsyncClient,
    dealer: Caller,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    flaky = TimesOutAfterTaking()
    flaky.add("P1", "10.00")
    settings = WorkerSettings(retry_base_seconds=0.01, retry_max_seconds=0.02)
    submitter = OrderSubmitter(sessions, flaky, "erp", settings)
    order_id = (await place(api, dealer, order_body(("P1", 1)))).json()["id"]

    await submitter.run_once()
    after_timeout = (
        await api.get(f"/v1/orders/{order_id}", headers=dealer.headers)
    ).json()
    await asyncio.sleep(0.05)
    await submitter.run_once()
    after_retry = (
        await api.get(f"/v1/orders/{order_id}", headers=dealer.headers)
    ).json()

    assert after_timeout["status"] == "submitted"
    assert after_retry["status"] == "accepted"
    assert len(flaky.orders) == 1


async def test_orders_wait_while_the_erp_is_down_and_go_out_once_each(
    api: httpx.AsyncClient, dealer: Caller, erp: InMemoryErp, worker: Worker
) -> None:
    down = BackendTimeoutError("erp", "find_order", "no answer")
    placed = [
        (await place(api, dealer, order_body((f"P{index}", 1)))).json()["id"]
        for index in range(1, 6)
    ]
    erp.behaviour["find_order"] = Behaviour(error=down)

    for _ in range(3):
        await worker.submit()
        await asyncio.sleep(0.03)
    while_down = len(erp.orders)
    erp.behaviour.clear()
    for _ in range(3):
        await worker.submit()
        await asyncio.sleep(0.03)

    statuses = [
        (await api.get(f"/v1/orders/{order_id}", headers=dealer.headers)).json()[
            "status"
        ]
        for order_id in placed
    ]
    assert while_down == 0
    assert statuses == ["accepted"] * 5
    assert sorted(str(request.order_id) for request in erp.orders.values()) == sorted(
        placed
    )


async def test_two_worker_replicas_never_submit_an_order_twice(
    api: httpx.AsyncClient,
    dealer: Caller,
    erp: InMemoryErp,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    erp.behaviour["submit_order"] = Behaviour(delay=0.05)
    for index in range(1, 7):
        await place(api, dealer, order_body((f"P{index}", 1)))
    settings = WorkerSettings(submit_batch=2)
    replicas = [OrderSubmitter(sessions, erp, "erp", settings) for _ in range(3)]

    for _ in range(3):
        await asyncio.gather(*(replica.run_once() for replica in replicas))

    submitted = [request.order_id for request in erp.orders.values()]
    assert len(submitted) == 6
    assert len(set(submitted)) == 6


async def test_status_changes_in_the_erp_reach_the_order_once_each(
    api: httpx.AsyncClient,
    dealer: Caller,
    erp: InMemoryErp,
    worker: Worker,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    order_id = (await place(api, dealer, order_body(("P1", 1)))).json()["id"]
    await worker.submit()
    erp.move("1", ErpOrderState.IN_FULFILMENT)
    erp.move("1", ErpOrderState.SHIPPED)

    await worker.poll()
    await worker.poll()
    erp.move("1", ErpOrderState.INVOICED)
    await worker.poll()
    order = (await api.get(f"/v1/orders/{order_id}", headers=dealer.headers)).json()

    assert [step["status"] for step in order["timeline"]] == [
        "submitted",
        "accepted",
        "in_fulfilment",
        "shipped",
        "invoiced",
    ]
    assert [kind for kind, _ in await events(sessions, order_id)] == [
        "order.created",
        *["order.status_changed"] * 4,
    ]


async def test_the_invoiced_discount_and_tax_reach_the_order_lines_and_event(
    api: httpx.AsyncClient,
    dealer: Caller,
    erp: InMemoryErp,
    worker: Worker,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    placed = await place(api, dealer, order_body(("P1", 3), ("P2", 1)))
    order_id = placed.json()["id"]
    list_prices = [line["unit_price"]["amount"] for line in placed.json()["lines"]]
    await worker.submit()
    erp.move("1", ErpOrderState.SHIPPED)
    terms = (
        ErpLineTerms(1, Decimal("0.3333"), Decimal("0.08")),
        ErpLineTerms(2, Decimal("1.50"), Decimal("0")),
        ErpLineTerms(9, Decimal("1.00"), Decimal("0.5")),  # not Portico's line
    )

    erp.move("1", ErpOrderState.INVOICED, terms)
    await worker.poll()
    order = (await api.get(f"/v1/orders/{order_id}", headers=dealer.headers)).json()

    first, second = order["lines"]
    assert [first["unit_price"]["amount"], second["unit_price"]["amount"]] == (
        list_prices
    )
    assert first["net_unit_price"]["amount"] == "0.3333"
    assert first["tax_rate"] == "0.08"
    assert first["line_total"]["amount"] == "0.9999"
    assert second["net_unit_price"]["amount"] == "1.50"
    assert order["total"]["amount"] == "2.4999"
    async with sessions() as session:
        announced = await session.scalar(
            select(OutboxRow.data["total"]["amount"].astext)
            .where(OutboxRow.subject == order_id)
            .order_by(OutboxRow.id.desc())
            .limit(1)
        )
    assert announced == "2.4999"


async def test_only_one_replica_polls_an_erp_at_a_time(
    sessions: async_sessionmaker[AsyncSession], erp: InMemoryErp
) -> None:
    erp.behaviour["order_changes"] = Behaviour(delay=0.2)
    pollers = [OrderSync(sessions, erp, "erp", batch=10) for _ in range(3)]

    results = await asyncio.gather(*(poller.run_once() for poller in pollers))

    assert sorted(results, key=lambda r: r is None) == [0, None, None]
    assert erp.calls.count("order_changes") == 1


async def test_an_unknown_order_in_the_erp_is_ignored(
    sessions: async_sessionmaker[AsyncSession], erp: InMemoryErp, worker: Worker
) -> None:
    erp.orders["9"] = ErpOrderRequest(
        order_id=uuid.uuid4(),
        customer_ref="X",
        lines=(),
        currency="USD",
        requested_date=None,
        customer_reference=None,
    )
    erp.move("9", ErpOrderState.SHIPPED)

    assert await worker.poll() == 1
