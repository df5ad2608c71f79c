"""Placing orders: ERP prices, validation, idempotency (C09), approval."""

import asyncio
import uuid
from decimal import Decimal

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.accounts.scopes import Scope
from domain.backends import BackendUnavailableError
from gateway.db.engine import transaction
from gateway.references import EntityKind, ReferenceRepository
from tests.gateway.orders.conftest import (
    Worker,
    count_orders,
    events,
    linked_caller,
    order_body,
    place,
)
from tests.support.backends import Behaviour, InMemoryErp
from tests.support.factories import Caller


async def test_an_order_is_priced_by_the_erp_and_answered_at_once(
    api: httpx.AsyncClient, dealer: Caller, sessions: async_sessionmaker[AsyncSession]
) -> None:
    response = await place(
        api, dealer, order_body(("P1", 3), ("P2", 1), customer_reference="PO-77")
    )

    assert response.status_code == 201, response.text
    order = response.json()
    assert response.headers["location"] == f"/v1/orders/{order['id']}"
    assert order["status"] == "submitted"
    assert order["priced"] is True
    # The account's ERP price list gives 10 % off the list price.
    assert [line["unit_price"]["amount"] for line in order["lines"]] == [
        "9.00",
        "18.00",
    ]
    assert order["total"] == {"amount": "45.00", "currency": "USD"}
    assert [step["status"] for step in order["timeline"]] == ["submitted"]
    assert await events(sessions, order["id"]) == [("order.created", "submitted")]


async def test_prices_sent_by_the_client_are_refused(
    api: httpx.AsyncClient, dealer: Caller
) -> None:
    body = {"lines": [{"sku": "P1", "quantity": 1, "unit_price": "0.01"}]}

    response = await place(api, dealer, body)

    assert response.status_code == 422
    assert response.json()["errors"][0]["location"] == "body.lines[0].unit_price"


@pytest.mark.parametrize(
    ("quantity", "location"),
    [
        (0, "body.lines[1].quantity"),
        (-2, "body.lines[1].quantity"),
        (1.5, "body.lines[1].quantity"),
        ("3", "body.lines[1].quantity"),
        ("1E+1000000", "body.lines[1].quantity"),
        (10**30, "body.lines[1].quantity"),
    ],
)
async def test_bad_quantities_are_a_422_naming_the_line(
    api: httpx.AsyncClient,
    dealer: Caller,
    sessions: async_sessionmaker[AsyncSession],
    quantity: object,
    location: str,
) -> None:
    body = {
        "lines": [{"sku": "P1", "quantity": 1}, {"sku": "P2", "quantity": quantity}]
    }

    response = await place(api, dealer, body)

    assert response.status_code == 422
    assert response.json()["errors"][0]["location"] == location
    assert await count_orders(sessions) == 0


#: C04: where the orders API takes a calendar date, a timestamp (with or without
#: an offset, at midnight or not) is refused, never cut down to its date.
TIMESTAMPS_FOR_A_DATE = [
    "2025-03-30T01:30:00+03:00",
    "2025-03-30T01:30:00",
    "2025-03-30T00:00:00+09:00",
    "2025-03-30T00:00:00",
    "2025-03-30T00:00:00Z",
    1743292800,
]


@pytest.mark.parametrize("field", ["requested_date", "order_date"])
@pytest.mark.parametrize("value", TIMESTAMPS_FOR_A_DATE)
async def test_c04_a_timestamp_for_an_order_date_is_a_422_never_a_500(
    api: httpx.AsyncClient,
    dealer: Caller,
    sessions: async_sessionmaker[AsyncSession],
    field: str,
    value: object,
) -> None:
    response = await place(api, dealer, order_body(("P1", 1), **{field: value}))

    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["location"] == f"body.{field}"
    assert "not a timestamp" in error["message"]
    assert await count_orders(sessions) == 0


async def test_c04_a_requested_date_is_kept_as_the_calendar_date_sent(
    api: httpx.AsyncClient, dealer: Caller
) -> None:
    response = await place(
        api, dealer, order_body(("P1", 1), requested_date="2025-03-30")
    )
    read = await api.get(f"/v1/orders/{response.json()['id']}", headers=dealer.headers)

    assert response.status_code == 201, response.text
    assert response.json()["requested_date"] == "2025-03-30"
    assert read.json()["requested_date"] == "2025-03-30"


async def test_an_unknown_sku_is_a_422_naming_the_line(
    api: httpx.AsyncClient, dealer: Caller, sessions: async_sessionmaker[AsyncSession]
) -> None:
    response = await place(api, dealer, order_body(("P1", 1), ("NOPE", 2)))

    assert response.status_code == 422
    assert response.json()["errors"][0]["location"] == "lines[1].sku"
    assert "NOPE" in response.json()["detail"]
    assert await count_orders(sessions) == 0


async def test_too_many_lines_is_a_422(api: httpx.AsyncClient, dealer: Caller) -> None:
    body = {"lines": [{"sku": f"P{i}", "quantity": 1} for i in range(201)]}

    response = await place(api, dealer, body)

    assert response.status_code == 422
    assert "200" in response.json()["errors"][0]["message"]


async def test_the_same_sku_twice_is_a_422(
    api: httpx.AsyncClient, dealer: Caller
) -> None:
    response = await place(api, dealer, order_body(("P1", 1), ("P1", 2)))

    assert response.status_code == 422
    assert response.json()["errors"][0]["location"] == "lines[1].sku"


async def test_an_idempotency_key_is_required(
    api: httpx.AsyncClient, dealer: Caller
) -> None:
    response = await api.post(
        "/v1/orders", json=order_body(("P1", 1)), headers=dealer.headers
    )

    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_required"


async def test_c09_concurrent_retries_place_exactly_one_order(
    api: httpx.AsyncClient,
    dealer: Caller,
    erp: InMemoryErp,
    worker: Worker,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    erp.behaviour["quote_prices"] = Behaviour(delay=0.3)
    key = str(uuid.uuid4())
    body = order_body(("P1", 2), ("P3", 1))

    replies = await asyncio.gather(*(place(api, dealer, body, key) for _ in range(10)))
    erp.behaviour.clear()
    settled = await place(api, dealer, body, key)
    await worker.submit()

    statuses = sorted(reply.status_code for reply in replies)
    assert statuses.count(201) == 1
    assert set(statuses) <= {201, 409}
    first = next(reply for reply in replies if reply.status_code == 201)
    assert settled.status_code == 201
    assert settled.content == first.content
    for reply in replies:
        if reply.status_code == 409:
            assert reply.json()["code"] == "idempotency_key_in_flight"
    assert await count_orders(sessions) == 1
    assert len(erp.orders) == 1


async def test_c09_the_same_key_with_another_body_is_a_422(
    api: httpx.AsyncClient, dealer: Caller, sessions: async_sessionmaker[AsyncSession]
) -> None:
    key = str(uuid.uuid4())
    await place(api, dealer, order_body(("P1", 2)), key)

    changed = await place(api, dealer, order_body(("P1", 3)), key)

    assert changed.status_code == 422
    assert changed.json()["code"] == "idempotency_key_reused"
    assert await count_orders(sessions) == 1


async def test_c09_keys_are_per_account(
    api: httpx.AsyncClient, dealer: Caller, sessions: async_sessionmaker[AsyncSession]
) -> None:
    other = await linked_caller(sessions, customer_ref="CUST-2", name="Other")
    key = str(uuid.uuid4())

    mine = await place(api, dealer, order_body(("P1", 1)), key)
    theirs = await place(api, other, order_body(("P1", 1)), key)

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]


async def test_c09_a_refusal_is_replayed_too(
    api: httpx.AsyncClient, dealer: Caller, erp: InMemoryErp
) -> None:
    key = str(uuid.uuid4())
    first = await place(api, dealer, order_body(("P9", 1)), key)
    erp.add("P9", "5.00")

    again = await place(api, dealer, order_body(("P9", 1)), key)

    assert first.status_code == 422
    assert again.status_code == 422
    assert again.content == first.content


async def test_c09_a_retry_after_linking_the_account_is_processed(
    api: httpx.AsyncClient, caller: Caller, sessions: async_sessionmaker[AsyncSession]
) -> None:
    key = str(uuid.uuid4())
    body = order_body(("P1", 1))
    unlinked = await place(api, caller, body, key)
    async with transaction(sessions) as session:
        await ReferenceRepository(session).link(
            EntityKind.ACCOUNT, caller.account.id, "erp", "CUST-1"
        )

    retried = await place(api, caller, body, key)
    replayed = await place(api, caller, body, key)

    assert unlinked.status_code == 409, "a state that may change is not remembered"
    assert retried.status_code == 201, retried.text
    assert replayed.content == retried.content
    assert replayed.headers["location"] == f"/v1/orders/{retried.json()['id']}"
    assert await count_orders(sessions) == 1


async def test_c09_a_replayed_creation_keeps_its_location(
    api: httpx.AsyncClient, dealer: Caller
) -> None:
    key = str(uuid.uuid4())
    first = await place(api, dealer, order_body(("P1", 1)), key)

    again = await place(api, dealer, order_body(("P1", 1)), key)

    assert again.status_code == first.status_code == 201
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["content-type"] == "application/json"


async def test_with_the_erp_down_the_order_is_taken_unpriced_and_priced_later(
    api: httpx.AsyncClient,
    dealer: Caller,
    erp: InMemoryErp,
    worker: Worker,
) -> None:
    down = BackendUnavailableError("erp", "quote_prices", "connection refused")
    erp.behaviour["quote_prices"] = Behaviour(error=down)

    placed = await place(api, dealer, order_body(("P2", 4)))
    await worker.submit()
    still_waiting = await api.get(
        f"/v1/orders/{placed.json()['id']}", headers=dealer.headers
    )
    erp.behaviour.clear()
    await asyncio.sleep(0.05)
    await worker.submit()
    done = await api.get(f"/v1/orders/{placed.json()['id']}", headers=dealer.headers)

    assert placed.status_code == 201
    assert placed.json()["priced"] is False
    assert placed.json()["total"] is None
    assert still_waiting.json()["status"] == "submitted"
    assert done.json()["status"] == "accepted"
    assert done.json()["total"] == {"amount": "72.00", "currency": "USD"}
    assert len(erp.orders) == 1


async def test_an_order_above_the_threshold_waits_for_an_approver(
    api: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    buyer = await linked_caller(
        sessions,
        approval_threshold="100",
        scopes=frozenset({Scope.ORDERS_WRITE, Scope.ORDERS_READ}),
    )
    placed = await place(api, buyer, order_body(("P7", 3)))
    order_id = placed.json()["id"]
    approver = await linked_caller(
        sessions, name="Approver", scopes=frozenset({Scope.ORDERS_APPROVE})
    )

    refused = await api.post(f"/v1/orders/{order_id}/approve", headers=buyer.headers)
    foreign = await api.post(f"/v1/orders/{order_id}/approve", headers=approver.headers)

    assert placed.json()["status"] == "pending_approval"
    assert refused.status_code == 403
    assert foreign.status_code == 404


async def test_approval_moves_the_order_on_and_a_second_one_is_a_409(
    api: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    buyer = await linked_caller(sessions, approval_threshold="100")
    order_id = (await place(api, buyer, order_body(("P7", 3)))).json()["id"]

    approved = await api.post(f"/v1/orders/{order_id}/approve", headers=buyer.headers)
    again = await api.post(f"/v1/orders/{order_id}/approve", headers=buyer.headers)

    assert approved.status_code == 200
    assert approved.json()["status"] == "submitted"
    assert again.status_code == 409
    assert "submitted" in again.json()["detail"]


async def test_an_order_below_the_threshold_goes_straight_on(
    api: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    buyer = await linked_caller(sessions, approval_threshold="1000")

    placed = await place(api, buyer, order_body(("P1", 3)))

    assert placed.json()["status"] == "submitted"
    assert Decimal(placed.json()["total"]["amount"]) < 1000


async def test_an_account_without_an_erp_customer_cannot_order(
    api: httpx.AsyncClient, caller: Caller
) -> None:
    response = await place(api, caller, order_body(("P1", 1)))

    assert response.status_code == 409
    assert "not linked" in response.json()["detail"]
