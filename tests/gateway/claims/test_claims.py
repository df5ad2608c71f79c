"""Filing and following claims behind the in-memory ERP twin: limits per
line, idempotency, isolation (C10), the thread, withdrawal, ERP decisions
and the SLA clock."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.backends import BackendRejectedError, BackendUnavailableError
from domain.claims.claimable import OrderNotClaimableError
from domain.claims.erp import ErpClaimState
from domain.claims.model import ClaimReason, ClaimType, RequestedClaimLine
from domain.orders.erp import ErpOrderState
from gateway.backends import Backends
from gateway.claims.service import ClaimRequest, ClaimService
from gateway.db.engine import transaction
from gateway.db.tables import ClaimErpTaskRow, ClaimRow, OutboxRow
from gateway.orders.sync import OrderSync
from gateway.settings import Settings
from tests.gateway.claims.conftest import (
    CLAIMS,
    ClaimWorker,
    claim_body,
    delivered_order,
    file_claim,
)
from tests.gateway.documents.harness import client_of, portico_app
from tests.gateway.orders.conftest import linked_caller, order_body, place
from tests.gateway.orders.test_placement import TIMESTAMPS_FOR_A_DATE
from tests.support.backends import Behaviour, InMemoryErp
from tests.support.factories import Caller


async def claim_events(
    sessions: async_sessionmaker[AsyncSession], subject: str
) -> list[tuple[str, str]]:
    async with sessions() as session:
        rows = await session.execute(
            select(OutboxRow.type, OutboxRow.data["status"].astext)
            .where(OutboxRow.subject == subject)
            .order_by(OutboxRow.id)
        )
        return [(kind, status) for kind, status in rows]


async def test_a_claim_is_filed_with_its_lines_sla_and_event(
    api: httpx.AsyncClient,
    erp: InMemoryErp,
    worker: ClaimWorker,
    dealer: Caller,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    order = await delivered_order(api, erp, worker, dealer, [("P1", 5), ("P2", 2)])

    response = await file_claim(api, dealer, claim_body(order["id"], (1, 2), (2, 1)))

    assert response.status_code == 201, response.text
    claim = response.json()
    assert response.headers["location"] == f"/v1/claims/{claim['id']}"
    assert claim["status"] == "submitted"
    assert [(line["sku"], line["quantity"]) for line in claim["lines"]] == [
        ("P1", 2),
        ("P2", 1),
    ]
    # Due times are shown in the account's zone (Europe/Berlin).
    due = datetime.fromisoformat(claim["sla"]["first_answer_due_at"])
    assert due.utcoffset() in {timedelta(hours=1), timedelta(hours=2)}
    assert claim["sla"]["first_answer_breached"] is False
    assert await claim_events(sessions, claim["id"]) == [("claim.created", "submitted")]


async def test_a_retry_with_the_same_key_files_the_claim_once(
    api: httpx.AsyncClient, erp: InMemoryErp, worker: ClaimWorker, dealer: Caller
) -> None:
    order = await delivered_order(api, erp, worker, dealer, [("P1", 5)])
    body = claim_body(order["id"], (1, 2))

    first = await file_claim(api, dealer, body, key="claim-key-1")
    again = await file_claim(api, dealer, body, key="claim-key-1")
    changed = await file_claim(
        api, dealer, claim_body(order["id"], (1, 3)), key="claim-key-1"
    )
    listing = (await api.get("/v1/claims", headers=dealer.headers)).json()

    assert first.status_code == 201
    assert again.status_code == 201
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    assert first.headers["location"] == f"/v1/claims/{first.json()['id']}"
    assert changed.status_code == 422
    assert changed.json()["code"] == "idempotency_key_reused"
    assert len(listing["items"]) == 1


async def test_an_overlong_idempotency_key_is_refused_as_orders_refuse_it(
    api: httpx.AsyncClient, erp: InMemoryErp, worker: ClaimWorker, dealer: Caller
) -> None:
    order = await delivered_order(api, erp, worker, dealer, [("P1", 5)])

    response = await file_claim(
        api, dealer, claim_body(order["id"], (1, 1)), key="k" * 256
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_idempotency_key"


@pytest.mark.parametrize("value", TIMESTAMPS_FOR_A_DATE)
@pytest.mark.parametrize("name", ["created_from", "created_to"])
async def test_c04_a_timestamp_in_a_date_filter_is_a_422_never_cut_to_a_date(
    api: httpx.AsyncClient, dealer: Caller, name: str, value: object
) -> None:
    response = await api.get(
        "/v1/claims", params={name: str(value)}, headers=dealer.headers
    )

    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["location"] == f"query.{name}"
    assert "not a timestamp" in error["message"]


async def test_a_date_range_ending_before_it_starts_is_a_422(
    api: httpx.AsyncClient, dealer: Caller
) -> None:
    response = await api.get(
        "/v1/claims",
        params={"created_from": "2025-03-02", "created_to": "2025-03-01"},
        headers=dealer.headers,
    )

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["location"] == "created_to"


async def test_a_line_on_another_accounts_order_is_not_found(
    api: httpx.AsyncClient,
    erp: InMemoryErp,
    worker: ClaimWorker,
    dealer: Caller,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    other = await linked_caller(sessions, customer_ref="CUST-2", name="Other AG")
    their_order = await delivered_order(api, erp, worker, other, [("P1", 5)])

    response = await file_claim(api, dealer, claim_body(their_order["id"], (1, 1)))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert "delivered_quantities" not in erp.calls


async def test_a_quantity_above_what_can_be_claimed_names_the_line_and_limit(
    api: httpx.AsyncClient, erp: InMemoryErp, worker: ClaimWorker, dealer: Caller
) -> None:
    order = await delivered_order(
        api, erp, worker, dealer, [("P1", 10), ("P2", 4)], delivered={"P1": 6}
    )

    # P1: 6 of 10 delivered; P2: nothing delivered, so the ordered 4 count.
    too_many = await file_claim(api, dealer, claim_body(order["id"], (2, 4), (1, 7)))
    fits = await file_claim(api, dealer, claim_body(order["id"], (1, 4), (2, 4)))
    then = await file_claim(api, dealer, claim_body(order["id"], (1, 3)))
    unknown_line = await file_claim(api, dealer, claim_body(order["id"], (9, 1)))

    assert too_many.status_code == 422
    problem = too_many.json()
    assert problem["errors"][0]["location"] == "lines[1].quantity"
    assert "at most 6 of order line 1 (P1)" in problem["detail"]
    assert fits.status_code == 201
    assert then.status_code == 422
    assert "at most 2 of order line 1" in then.json()["detail"]
    assert "4 already claimed" in then.json()["detail"]
    assert unknown_line.status_code == 422
    assert unknown_line.json()["errors"][0]["location"] == "lines[0].order_line_no"


async def test_a_withdrawn_claim_gives_its_quantity_back(
    api: httpx.AsyncClient, erp: InMemoryErp, worker: ClaimWorker, dealer: Caller
) -> None:
    order = await delivered_order(api, erp, worker, dealer, [("P1", 3)])
    first = (await file_claim(api, dealer, claim_body(order["id"], (1, 3)))).json()

    blocked = await file_claim(api, dealer, claim_body(order["id"], (1, 1)))
    withdrawn = await api.post(
        f"/v1/claims/{first['id']}/withdraw", headers=dealer.headers
    )
    again = await file_claim(api, dealer, claim_body(order["id"], (1, 3)))
    twice = await api.post(f"/v1/claims/{first['id']}/withdraw", headers=dealer.headers)

    assert blocked.status_code == 422
    assert withdrawn.status_code == 200
    assert withdrawn.json()["status"] == "withdrawn"
    assert again.status_code == 201
    assert twice.status_code == 409


async def test_concurrent_claims_cannot_together_exceed_the_line(
    api: httpx.AsyncClient, erp: InMemoryErp, worker: ClaimWorker, dealer: Caller
) -> None:
    order = await delivered_order(api, erp, worker, dealer, [("P1", 3)])

    answers = await asyncio.gather(
        *(file_claim(api, dealer, claim_body(order["id"], (1, 2))) for _ in range(4))
    )

    assert sorted(answer.status_code for answer in answers) == [201, 422, 422, 422]


async def test_c10_anothers_claim_is_not_found_and_its_cursor_refused(
    api: httpx.AsyncClient,
    erp: InMemoryErp,
    worker: ClaimWorker,
    dealer: Caller,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    other = await linked_caller(sessions, customer_ref="CUST-2", name="Other AG")
    order = await delivered_order(api, erp, worker, other, [("P1", 5)])
    for _ in range(3):
        await file_claim(api, other, claim_body(order["id"], (1, 1)))
    theirs = (
        await api.get("/v1/claims", params={"limit": 1}, headers=other.headers)
    ).json()
    claim_id = theirs["items"][0]["id"]

    read = await api.get(f"/v1/claims/{claim_id}", headers=dealer.headers)
    comment = await api.post(
        f"/v1/claims/{claim_id}/comments", json={"body": "hi"}, headers=dealer.headers
    )
    withdraw = await api.post(f"/v1/claims/{claim_id}/withdraw", headers=dealer.headers)
    cursor = await api.get(
        "/v1/claims",
        params={"cursor": theirs["next_cursor"], "limit": 1},
        headers=dealer.headers,
    )
    mine = (await api.get("/v1/claims", headers=dealer.headers)).json()

    assert read.status_code == 404
    assert comment.status_code == 404
    assert withdraw.status_code == 404
    assert cursor.status_code == 422
    assert mine["items"] == []


async def test_the_erp_takes_the_claim_and_its_decisions_come_back(
    api: httpx.AsyncClient,
    erp: InMemoryErp,
    worker: ClaimWorker,
    dealer: Caller,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    order = await delivered_order(api, erp, worker, dealer, [("P1", 5)], {"P1": 5})
    claim = (await file_claim(api, dealer, claim_body(order["id"], (1, 2)))).json()

    await worker.run()
    in_review = (
        await api.get(f"/v1/claims/{claim['id']}", headers=dealer.headers)
    ).json()
    [external_id] = erp.claims
    erp.decide_claim(external_id, ErpClaimState.RESOLVED)
    await worker.run()
    resolved = (
        await api.get(f"/v1/claims/{claim['id']}", headers=dealer.headers)
    ).json()

    assert erp.claims[external_id].claim_id.hex == claim["id"].replace("-", "")
    assert erp.claims[external_id].customer_ref == "CUST-1"
    assert in_review["status"] == "in_review"
    assert in_review["erp_number"] == f"C{external_id}"
    assert resolved["status"] == "resolved"
    assert [step["status"] for step in resolved["timeline"]] == [
        "submitted",
        "in_review",
        "approved",
        "resolved",
    ]
    assert resolved["sla"]["first_answered_at"] is not None
    assert resolved["sla"]["settled_at"] is not None
    assert [kind for kind, _ in await claim_events(sessions, claim["id"])] == [
        "claim.created",
        "claim.updated",
        "claim.updated",
    ]


async def test_the_supplier_asks_and_the_customers_answer_reopens_review(
    api: httpx.AsyncClient, erp: InMemoryErp, worker: ClaimWorker, dealer: Caller
) -> None:
    order = await delivered_order(api, erp, worker, dealer, [("P1", 5)])
    claim = (await file_claim(api, dealer, claim_body(order["id"], (1, 1)))).json()
    await worker.run()
    [external_id] = erp.claims
    erp.write_to_customer(external_id, "Anna (Supplier)", "Please send a photo.")
    erp.decide_claim(external_id, ErpClaimState.RETURNED)
    await worker.run()
    asked = (await api.get(f"/v1/claims/{claim['id']}", headers=dealer.headers)).json()

    answered = await api.post(
        f"/v1/claims/{claim['id']}/comments",
        json={"body": "Photo attached.", "author": "Jan"},
        headers=dealer.headers,
    )
    await worker.run()

    assert asked["status"] == "awaiting_customer"
    assert [(c["side"], c["author"]) for c in asked["comments"]] == [
        ("supplier", "Anna (Supplier)")
    ]
    assert asked["sla"]["first_answered_at"] is not None
    assert answered.status_code == 201
    assert answered.json()["status"] == "in_review"
    assert erp.posted_messages == [(external_id, "Jan", "Photo attached.")]
    assert erp.claim_states[external_id] is ErpClaimState.IN_REVIEW
    # The customer's own message never comes back as the supplier's.
    final = (await api.get(f"/v1/claims/{claim['id']}", headers=dealer.headers)).json()
    assert [c["side"] for c in final["comments"]] == ["supplier", "account"]


async def test_withdrawing_cancels_the_claim_in_the_erp(
    api: httpx.AsyncClient, erp: InMemoryErp, worker: ClaimWorker, dealer: Caller
) -> None:
    order = await delivered_order(api, erp, worker, dealer, [("P1", 5)])
    claim = (await file_claim(api, dealer, claim_body(order["id"], (1, 1)))).json()
    await worker.run()

    await api.post(f"/v1/claims/{claim['id']}/withdraw", headers=dealer.headers)
    await worker.run()
    after = (await api.get(f"/v1/claims/{claim['id']}", headers=dealer.headers)).json()

    [external_id] = erp.claims
    assert erp.claim_states[external_id] is ErpClaimState.CANCELLED
    assert after["status"] == "withdrawn"


async def test_a_comment_on_a_closed_claim_is_a_409(
    api: httpx.AsyncClient, erp: InMemoryErp, worker: ClaimWorker, dealer: Caller
) -> None:
    order = await delivered_order(api, erp, worker, dealer, [("P1", 5)])
    claim = (await file_claim(api, dealer, claim_body(order["id"], (1, 1)))).json()
    await worker.run()
    [external_id] = erp.claims
    erp.decide_claim(external_id, ErpClaimState.CANCELLED)
    await worker.run()

    response = await api.post(
        f"/v1/claims/{claim['id']}/comments",
        json={"body": "Why?"},
        headers=dealer.headers,
    )

    assert response.status_code == 409
    assert "closed" in response.json()["detail"]


async def test_a_claim_is_taken_once_the_erp_has_accepted_its_order(
    api: httpx.AsyncClient,
    erp: InMemoryErp,
    worker: ClaimWorker,
    dealer: Caller,
) -> None:
    placed = (
        await api.post(
            "/v1/orders",
            json={"lines": [{"sku": "P1", "quantity": 2}]},
            headers={**dealer.headers, "Idempotency-Key": "o-1"},
        )
    ).json()

    early = await file_claim(api, dealer, claim_body(placed["id"], (1, 2)))
    await worker.orders.run_once()
    accepted = await file_claim(api, dealer, claim_body(placed["id"], (1, 2)))
    await worker.run()

    assert early.status_code == 409
    assert "the order is submitted" in early.json()["detail"]
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["status"] == "submitted"
    assert len(erp.claims) == 1


async def test_the_sla_counts_working_days_in_the_accounts_zone_and_shows_breaches(
    settings: Settings,
    erp: InMemoryErp,
    worker: ClaimWorker,
    dealer: Caller,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    backends = Backends(erp=erp, erp_name="erp", cms=erp, cms_name="erp")
    # Friday 2026-11-27, 18:00 in Berlin; long past by now.
    filed = datetime(2026, 11, 27, 17, 0, tzinfo=UTC)
    async with (
        portico_app(settings, backends, claims=CLAIMS, clock=lambda: filed) as app,
        client_of(app) as api,
    ):
        order = await delivered_order(api, erp, worker, dealer, [("P1", 5)])
        claim = (await file_claim(api, dealer, claim_body(order["id"], (1, 1)))).json()
        breached = (
            await api.get(
                "/v1/claims", params={"breached": True}, headers=dealer.headers
            )
        ).json()
        within = (
            await api.get(
                "/v1/claims", params={"breached": False}, headers=dealer.headers
            )
        ).json()

    # 24 working hours from Friday 18:00 skip the weekend: Monday 18:00.
    assert claim["sla"]["first_answer_due_at"] == "2026-11-30T18:00:00+01:00"
    assert claim["sla"]["first_answer_breached"] is True
    assert [item["id"] for item in breached["items"]] == [claim["id"]]
    assert breached["items"][0]["sla_breached"] is True
    assert within["items"] == []


async def test_listing_filters_by_status_type_and_order(
    api: httpx.AsyncClient, erp: InMemoryErp, worker: ClaimWorker, dealer: Caller
) -> None:
    first = await delivered_order(api, erp, worker, dealer, [("P1", 5)])
    second = await delivered_order(api, erp, worker, dealer, [("P2", 5)])
    a = (await file_claim(api, dealer, claim_body(first["id"], (1, 1)))).json()
    b = (
        await file_claim(api, dealer, claim_body(second["id"], (1, 1), type="return"))
    ).json()
    await api.post(f"/v1/claims/{a['id']}/withdraw", headers=dealer.headers)

    async def ids(**params: Any) -> list[str]:
        response = await api.get("/v1/claims", params=params, headers=dealer.headers)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids(status="withdrawn") == [a["id"]]
    assert await ids(type="return") == [b["id"]]
    assert await ids(order_id=second["id"]) == [b["id"]]
    assert await ids(sort="created_at") == [a["id"], b["id"]]
    assert await ids(sort="status") == [b["id"], a["id"]]


async def test_a_claim_the_erp_refuses_stays_in_review_and_later_tasks_are_dropped(
    api: httpx.AsyncClient,
    erp: InMemoryErp,
    worker: ClaimWorker,
    dealer: Caller,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    order = await delivered_order(api, erp, worker, dealer, [("P1", 5)])
    erp.behaviour["submit_claim"] = Behaviour(
        error=BackendRejectedError("erp", "submit_claim", "no complaint type")
    )
    claim = (await file_claim(api, dealer, claim_body(order["id"], (1, 1)))).json()

    await worker.run()
    refused = (
        await api.get(f"/v1/claims/{claim['id']}", headers=dealer.headers)
    ).json()
    await api.post(f"/v1/claims/{claim['id']}/withdraw", headers=dealer.headers)
    await worker.run()

    assert refused["status"] == "in_review"
    assert "no complaint type" in refused["timeline"][-1]["note"]
    assert "withdraw_claim" not in erp.calls
    assert await pending_tasks(sessions) == 0


async def test_a_transient_erp_failure_is_retried(
    api: httpx.AsyncClient, erp: InMemoryErp, worker: ClaimWorker, dealer: Caller
) -> None:
    order = await delivered_order(api, erp, worker, dealer, [("P1", 5)])
    erp.behaviour["submit_claim"] = Behaviour(
        error=BackendUnavailableError("erp", "submit_claim", "down")
    )
    claim = (await file_claim(api, dealer, claim_body(order["id"], (1, 1)))).json()

    await worker.tasks.run_once()
    erp.behaviour.clear()
    await asyncio.sleep(0.05)  # the test backoff is 10-20 ms
    await worker.run()
    after = (await api.get(f"/v1/claims/{claim['id']}", headers=dealer.headers)).json()

    assert erp.calls.count("submit_claim") == 2
    assert after["status"] == "in_review"


async def pending_tasks(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(
            await session.scalar(select(func.count()).select_from(ClaimErpTaskRow)) or 0
        )


async def test_bad_input_is_a_422_never_a_500(
    api: httpx.AsyncClient, erp: InMemoryErp, worker: ClaimWorker, dealer: Caller
) -> None:
    order = await delivered_order(api, erp, worker, dealer, [("P1", 5)])
    control = claim_body(order["id"], (1, 1), description="bell\x07")
    huge = claim_body(order["id"], (1, 1))
    huge["lines"][0]["quantity"] = "1E+1000000"

    answers = [
        await file_claim(api, dealer, control),
        await file_claim(api, dealer, huge),
        await api.get(
            "/v1/claims", params={"created_to": "9999-12-31"}, headers=dealer.headers
        ),
        await api.get(
            "/v1/documents/reconciliation",
            params={"from": "0001-01-01"},
            headers=dealer.headers,
        ),
    ]

    assert [answer.status_code for answer in answers] == [422, 422, 422, 422]


async def order_in(
    status: str,
    api: httpx.AsyncClient,
    erp: InMemoryErp,
    worker: ClaimWorker,
    sessions: async_sessionmaker[AsyncSession],
    caller: Caller,
) -> dict[str, Any]:
    """An order of ``caller``'s (approval threshold 50.00) brought to
    ``status`` the way orders really get there."""
    if status == "pending_approval":
        placed = await place(api, caller, order_body(("P1", 10)))  # 100.00
    else:
        placed = await place(api, caller, order_body(("P1", 2)))  # 20.00
    order: dict[str, Any] = placed.json()
    if status == "cancelled":
        cancelled = await api.post(
            f"/v1/orders/{order['id']}/cancel", headers=caller.headers
        )
        assert cancelled.status_code == 200, cancelled.text
    elif status == "rejected":
        erp.behaviour["submit_order"] = Behaviour(
            error=BackendRejectedError("erp", "submit_order", "customer is blocked")
        )
        await worker.orders.run_once()
        erp.behaviour.clear()
    elif status != "pending_approval" and status != "submitted":
        await worker.orders.run_once()
        if status != "accepted":
            [external_id] = [
                key
                for key, request in erp.orders.items()
                if str(request.order_id) == order["id"]
            ]
            erp.move(external_id, ErpOrderState(status))
            await OrderSync(sessions, erp, "erp", batch=50).run_once()
    now = await api.get(f"/v1/orders/{order['id']}", headers=caller.headers)
    assert now.json()["status"] == status
    return order


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        ("pending_approval", "it awaits approval and has not gone to the ERP"),
        ("submitted", "the ERP has not accepted it yet"),
        ("rejected", "the ERP rejected it"),
        ("cancelled", "it was cancelled"),
    ],
)
async def test_a_claim_on_an_order_the_erp_never_accepted_is_a_409_naming_its_state(
    api: httpx.AsyncClient,
    erp: InMemoryErp,
    worker: ClaimWorker,
    sessions: async_sessionmaker[AsyncSession],
    status: str,
    reason: str,
) -> None:
    caller = await linked_caller(sessions, approval_threshold="50.00")
    order = await order_in(status, api, erp, worker, sessions, caller)

    response = await file_claim(
        api, caller, claim_body(order["id"], (1, 1)), key="claim-1"
    )
    again = await file_claim(
        api, caller, claim_body(order["id"], (1, 1)), key="claim-1"
    )
    listing = (await api.get("/v1/claims", headers=caller.headers)).json()

    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "conflict"
    assert problem["detail"].startswith(
        f"the order is {status}, so no claim can be filed against it: {reason}"
    )
    assert again.status_code == 409
    assert again.json()["detail"] == problem["detail"]
    assert listing["items"] == []
    assert "delivered_quantities" not in erp.calls
    async with sessions() as session:
        assert await session.scalar(select(func.count(ClaimRow.id))) == 0
        assert (
            await session.scalar(
                select(func.count(OutboxRow.id)).where(
                    OutboxRow.type == "claim.created"
                )
            )
            == 0
        )


@pytest.mark.parametrize(
    "status", ["accepted", "in_fulfilment", "shipped", "delivered", "invoiced"]
)
async def test_claims_are_taken_on_every_order_the_erp_accepted(
    api: httpx.AsyncClient,
    erp: InMemoryErp,
    worker: ClaimWorker,
    sessions: async_sessionmaker[AsyncSession],
    status: str,
) -> None:
    caller = await linked_caller(sessions, approval_threshold="50.00")
    order = await order_in(status, api, erp, worker, sessions, caller)

    response = await file_claim(api, caller, claim_body(order["id"], (1, 1)))

    assert response.status_code == 201, response.text


async def test_a_claim_whose_order_is_cancelled_while_it_is_filed_is_refused(
    claims_app: FastAPI,
    api: httpx.AsyncClient,
    erp: InMemoryErp,
    worker: ClaimWorker,
    dealer: Caller,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    order = await delivered_order(api, erp, worker, dealer, [("P1", 5)])
    claims: ClaimService = claims_app.state.claims
    prepared = await claims.prepare(
        sessions,
        dealer.account,
        ClaimRequest(
            order_id=uuid.UUID(order["id"]),
            type=ClaimType.COMPLAINT,
            description="Parts arrived broken",
            lines=[RequestedClaimLine(1, 1, ClaimReason.DAMAGED)],
        ),
    )

    cancelled = await api.post(
        f"/v1/orders/{order['id']}/cancel", headers=dealer.headers
    )
    with pytest.raises(OrderNotClaimableError) as refused:
        async with transaction(sessions) as session:
            await claims.create(session, dealer.account, prepared)

    assert cancelled.status_code == 200, cancelled.text
    assert refused.value.order_status.value == "cancelled"
    async with sessions() as session:
        assert await session.scalar(select(func.count(ClaimRow.id))) == 0
