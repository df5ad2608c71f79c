"""Claims through the Tryton connector, against the real Tryton peer:
complaints on sales, delivered quantities, messages and decisions. The
cursor and the state words are checked without a server."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from connectors.tryton.claims import PORTICO_MARK, ClaimCursor, claim_state
from connectors.tryton.connector import TrytonConnector
from connectors.tryton.orders import Position
from connectors.tryton.rpc import TrytonRpc
from domain.backends import BackendNotFoundError, BackendRejectedError
from domain.claims.erp import (
    ErpClaimChange,
    ErpClaimMessage,
    ErpClaimRequest,
    ErpClaimState,
)
from domain.claims.model import ClaimLine, ClaimReason, ClaimType
from gateway.peers.tryton import TrytonPeer
from gateway.peers.tryton_ops import ship_sale
from tests.connectors.tryton.test_orders import backoffice, connector, order_request

__all__ = ["backoffice", "connector"]

CUSTKEY = 43


def claim_request(
    peer: TrytonPeer, sale_id: str, *, custkey: int = CUSTKEY, sku_key: int = 91
) -> ErpClaimRequest:
    return ErpClaimRequest(
        claim_id=uuid.uuid4(),
        customer_ref=str(peer.manifest.customers[custkey].party_id),
        order_external_id=sale_id,
        type=ClaimType.RETURN,
        description="Two housings cracked",
        lines=(
            ClaimLine(
                line_no=1,
                order_line_no=1,
                sku=peer.manifest.parts[sku_key].code,
                quantity=2,
                reason=ClaimReason.DAMAGED,
                note="see photos",
            ),
        ),
    )


async def everything_after(
    connector: TrytonConnector, cursor: str | None
) -> tuple[list[ErpClaimChange], list[ErpClaimMessage], str]:
    changes: list[ErpClaimChange] = []
    messages: list[ErpClaimMessage] = []
    while True:
        page = await connector.claim_changes(cursor, 100)
        changes += page.changes
        messages += page.messages
        if page.cursor == cursor:
            return changes, messages, page.cursor
        cursor = page.cursor


def test_the_cursor_round_trips_and_refuses_strangers() -> None:
    cursor = ClaimCursor(Position(dt.datetime(2026, 12, 3, 8, 0), 4), 17)

    assert ClaimCursor.decode(cursor.encode()) == cursor
    assert ClaimCursor.decode(None) == ClaimCursor()
    for bad in ("d1;-;-;-", "c1;-;x", "c1;-"):
        with pytest.raises(ValueError, match="claim cursor"):
            ClaimCursor.decode(bad)


def test_tryton_states_in_portico_words() -> None:
    assert [
        claim_state(state)
        for state in ("draft", "waiting", "approved", "rejected", "done", "cancelled")
    ] == [
        ErpClaimState.RETURNED,
        ErpClaimState.IN_REVIEW,
        ErpClaimState.APPROVED,
        ErpClaimState.REJECTED,
        ErpClaimState.RESOLVED,
        ErpClaimState.CANCELLED,
    ]


@pytest.mark.tryton
async def test_a_claim_becomes_one_complaint_under_review_on_its_sale(
    connector: TrytonConnector, tryton_peer: TrytonPeer, backoffice: TrytonRpc
) -> None:
    receipt = await connector.submit_order(
        order_request(tryton_peer, [(91, "3", "20.00")], custkey=CUSTKEY)
    )
    request = claim_request(tryton_peer, receipt.external_id)

    submitted = await connector.submit_claim(request)
    again = await connector.submit_claim(request)
    found = await connector.find_claim(request.claim_id)
    second = await connector.submit_claim(
        claim_request(tryton_peer, receipt.external_id)
    )
    (complaint,) = await backoffice.model(
        "sale.complaint",
        "read",
        [int(submitted.external_id)],
        ["origin", "state", "reference", "type", "actions", "description"],
    )

    assert again == submitted
    assert found == submitted
    assert second.external_id != submitted.external_id  # similar: acknowledged
    assert complaint["origin"] == f"sale.sale,{receipt.external_id}"
    assert complaint["state"] == "waiting"
    assert complaint["reference"] == str(request.claim_id)
    assert complaint["type"] == tryton_peer.manifest.complaint_type_id
    assert len(complaint["actions"]) == 1
    assert "see photos" in complaint["description"]
    assert await connector.find_claim(uuid.uuid4()) is None


@pytest.mark.tryton
async def test_a_claim_on_another_customers_sale_is_refused(
    connector: TrytonConnector, tryton_peer: TrytonPeer
) -> None:
    receipt = await connector.submit_order(
        order_request(tryton_peer, [(92, "1", "20.00")], custkey=CUSTKEY)
    )

    with pytest.raises(BackendRejectedError):
        await connector.submit_claim(
            claim_request(tryton_peer, receipt.external_id, custkey=44)
        )
    with pytest.raises(BackendRejectedError):
        await connector.submit_claim(claim_request(tryton_peer, "999999"))


@pytest.mark.tryton
async def test_delivered_quantities_count_done_moves_to_the_customer(
    connector: TrytonConnector, tryton_peer: TrytonPeer, backoffice: TrytonRpc
) -> None:
    receipt = await connector.submit_order(
        order_request(
            tryton_peer, [(93, "4", "20.00"), (94, "1", "5.00")], custkey=CUSTKEY
        )
    )

    before = await connector.delivered_quantities(receipt.external_id)
    await ship_sale(backoffice, int(receipt.external_id))
    after = await connector.delivered_quantities(receipt.external_id)

    parts = tryton_peer.manifest.parts
    assert before == {}
    assert after == {parts[93].code: Decimal(4), parts[94].code: Decimal(1)}
    with pytest.raises(BackendNotFoundError):
        await connector.delivered_quantities("not-an-id")


@pytest.mark.tryton
async def test_decisions_and_staff_messages_come_back_and_own_ones_do_not(
    connector: TrytonConnector, tryton_peer: TrytonPeer, backoffice: TrytonRpc
) -> None:
    _, _, start = await everything_after(connector, None)
    receipt = await connector.submit_order(
        order_request(tryton_peer, [(95, "2", "20.00")], custkey=CUSTKEY)
    )
    request = claim_request(tryton_peer, receipt.external_id, sku_key=95)
    claim = await connector.submit_claim(request)
    complaint_id = int(claim.external_id)

    own = await connector.post_claim_message(claim.external_id, "Jan", "Any news?")
    await backoffice.model(
        "ir.chat.channel",
        "post",
        f"sale.complaint,{complaint_id}",
        "Checking with the warehouse.",
        "public",
    )
    await backoffice.model("sale.complaint", "draft", [complaint_id])
    await connector.resume_claim(claim.external_id)
    await connector.resume_claim(claim.external_id)  # under review: no-op
    await backoffice.model("sale.complaint", "reject", [complaint_id])
    changes, messages, _ = await everything_after(connector, start)

    mine = [c for c in changes if c.external_id == claim.external_id]
    assert mine
    assert all(c.claim_id == request.claim_id for c in mine)
    assert mine[-1].state is ErpClaimState.REJECTED
    assert [(m.external_id, m.body) for m in messages] == [
        (claim.external_id, "Checking with the warehouse.")
    ]
    assert own.isdigit()
    with pytest.raises(BackendRejectedError):
        await connector.withdraw_claim(claim.external_id)


@pytest.mark.tryton
async def test_withdrawing_cancels_and_is_safe_to_repeat(
    connector: TrytonConnector, tryton_peer: TrytonPeer, backoffice: TrytonRpc
) -> None:
    receipt = await connector.submit_order(
        order_request(tryton_peer, [(96, "1", "20.00")], custkey=CUSTKEY)
    )
    claim = await connector.submit_claim(
        claim_request(tryton_peer, receipt.external_id, sku_key=96)
    )

    await connector.withdraw_claim(claim.external_id)
    await connector.withdraw_claim(claim.external_id)
    (complaint,) = await backoffice.model(
        "sale.complaint", "read", [int(claim.external_id)], ["state"]
    )

    assert complaint["state"] == "cancelled"
    assert PORTICO_MARK.startswith("[")
    with pytest.raises(BackendNotFoundError):
        await connector.withdraw_claim("999999")
