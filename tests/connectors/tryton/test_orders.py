"""Orders through the Tryton connector, against the real Tryton peer.

The tests marked ``tryton`` make their own sales (never touching seeded
records) and move them on with the back-office actions of
:mod:`gateway.peers.tryton_ops`. The others check the state rule and the
cursor without a server.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal

import httpx
import pytest

from connectors.runtime import load_connector
from connectors.tryton.connector import TrytonConnector
from connectors.tryton.orders import ChangeCursor, Position, order_state
from connectors.tryton.rpc import TrytonRpc
from domain.backends import BackendNotFoundError, BackendRejectedError
from domain.money import Money
from domain.orders.erp import (
    ErpChangePage,
    ErpLineTerms,
    ErpOrderChange,
    ErpOrderLine,
    ErpOrderRequest,
    ErpOrderState,
)
from gateway.peers.tryton import TrytonPeer
from gateway.peers.tryton_ops import (
    LineSettlement,
    TaxBook,
    pick_sale,
    post_invoices,
    sale_state,
    settle_invoice,
    ship_sale,
)

CUSTKEY = 11


@pytest.fixture
async def connector(tryton_peer: TrytonPeer) -> AsyncIterator[TrytonConnector]:
    built = load_connector(
        "erp",
        "tryton",
        {
            "base_url": tryton_peer.url,
            "database": tryton_peer.database,
            "username": tryton_peer.admin_login,
            "password": tryton_peer.admin_password,
            # SQLite-backed Tryton takes 0.1-0.3 s per write.
            "deadline_seconds": 30.0,
        },
    )
    assert isinstance(built, TrytonConnector)
    yield built
    await built.aclose()


@pytest.fixture
async def backoffice(tryton_peer: TrytonPeer) -> AsyncIterator[TrytonRpc]:
    """The supplier's staff: an admin session of its own."""
    async with httpx.AsyncClient(base_url=tryton_peer.url, timeout=60.0) as http:
        rpc = TrytonRpc(
            http,
            tryton_peer.database,
            tryton_peer.admin_login,
            tryton_peer.admin_password,
        )
        await rpc.login()
        yield rpc
        await rpc.logout()


def order_request(
    peer: TrytonPeer,
    lines: Sequence[tuple[int, str, str]] = ((1, "2", "850.25"),),
    *,
    custkey: int = CUSTKEY,
    requested_date: dt.date | None = None,
    customer_reference: str | None = "PO-4711",
) -> ErpOrderRequest:
    """An order of ``lines`` (TPC-H part key, quantity, unit price)."""
    return ErpOrderRequest(
        order_id=uuid.uuid4(),
        customer_ref=str(peer.manifest.customers[custkey].party_id),
        lines=tuple(
            ErpOrderLine(
                sku=peer.manifest.parts[partkey].code,
                quantity=Decimal(quantity),
                unit_price=Money(Decimal(price), "USD"),
            )
            for partkey, quantity, price in lines
        ),
        currency="USD",
        requested_date=requested_date,
        customer_reference=customer_reference,
    )


async def drain(
    connector: TrytonConnector, cursor: str | None, limit: int = 200
) -> tuple[list[ErpOrderChange], str]:
    """Every change after ``cursor``, page by page, and the last cursor."""
    changes: list[ErpOrderChange] = []
    while True:
        page = await connector.order_changes(cursor, limit)
        if not page.changes:
            assert page.cursor == cursor or cursor is None
            return changes, page.cursor
        changes.extend(page.changes)
        cursor = page.cursor


async def changes_of(
    connector: TrytonConnector, cursor: str, external_id: str
) -> tuple[list[ErpOrderState], str]:
    changes, cursor = await drain(connector, cursor)
    return [c.state for c in changes if c.external_id == external_id], cursor


async def hand_made_sale(
    peer: TrytonPeer, rpc: TrytonRpc, reference: str, *, addresses: bool = True
) -> int:
    """A draft sale made in Tryton directly, as staff or a cut-off submit would."""
    customer = peer.manifest.customers[CUSTKEY]
    part = peer.manifest.parts[1]
    values: dict[str, object] = {
        "party": customer.party_id,
        "reference": reference,
        "lines": [
            [
                "create",
                [
                    {
                        "type": "line",
                        "product": part.product_id,
                        "quantity": 2.0,
                        "unit": peer.manifest.unit_uom_id,
                        "unit_price": Decimal("850.25"),
                    }
                ],
            ]
        ],
    }
    if addresses:
        values["invoice_address"] = customer.address_id
        values["shipment_address"] = customer.address_id
    (sale_id,) = await rpc.model("sale.sale", "create", [values])
    return int(sale_id)


async def sales_with_reference(rpc: TrytonRpc, reference: str) -> list[int]:
    found = await rpc.model("sale.sale", "search", [("reference", "=", reference)])
    return [int(i) for i in found]


@pytest.mark.tryton
async def test_submit_creates_a_confirmed_sale_with_the_order_id_and_prices(
    connector: TrytonConnector, tryton_peer: TrytonPeer, backoffice: TrytonRpc
) -> None:
    manifest = tryton_peer.manifest
    requested = dt.date.today() + dt.timedelta(days=10)
    request = order_request(
        tryton_peer,
        [(1, "2", "850.25"), (2, "5", "12.5")],
        requested_date=requested,
    )

    receipt = await connector.submit_order(request)

    (sale,) = await backoffice.model(
        "sale.sale",
        "read",
        [int(receipt.external_id)],
        [
            "reference",
            "description",
            "number",
            "state",
            "party",
            "invoice_address",
            "shipment_address",
            "shipping_date",
            "lines",
        ],
    )
    customer = manifest.customers[CUSTKEY]
    assert sale["reference"] == str(request.order_id)
    assert sale["description"] == "PO-4711"
    assert sale["number"] == receipt.number != ""
    assert sale["state"] == "processing"
    assert sale["party"] == customer.party_id
    assert sale["invoice_address"] == sale["shipment_address"] == customer.address_id
    assert sale["shipping_date"] == requested
    lines = await backoffice.model(
        "sale.line", "read", sale["lines"], ["product", "quantity", "unit_price"]
    )
    assert sorted(
        (line["product"], line["quantity"], line["unit_price"]) for line in lines
    ) == [
        (manifest.parts[1].product_id, 2.0, Decimal("850.25")),
        (manifest.parts[2].product_id, 5.0, Decimal("12.5")),
    ]
    assert await sale_state(backoffice, int(receipt.external_id)) == {
        "state": "processing",
        "shipment_state": "waiting",
        "invoice_state": "pending",
        "number": receipt.number,
    }


@pytest.mark.tryton
async def test_find_order_finds_the_submitted_sale_and_nothing_else(
    connector: TrytonConnector, tryton_peer: TrytonPeer
) -> None:
    request = order_request(tryton_peer)
    receipt = await connector.submit_order(request)

    assert await connector.find_order(request.order_id) == receipt
    assert await connector.find_order(uuid.uuid4()) is None


@pytest.mark.tryton
async def test_submitting_the_same_order_again_returns_the_first_sale(
    connector: TrytonConnector, tryton_peer: TrytonPeer, backoffice: TrytonRpc
) -> None:
    request = order_request(tryton_peer)
    first = await connector.submit_order(request)

    again = await connector.submit_order(request)

    assert again == first
    assert await sales_with_reference(backoffice, str(request.order_id)) == [
        int(first.external_id)
    ]


@pytest.mark.tryton
async def test_an_unknown_sku_is_rejected_by_name_and_makes_no_sale(
    connector: TrytonConnector, tryton_peer: TrytonPeer, backoffice: TrytonRpc
) -> None:
    request = order_request(tryton_peer)
    request = dataclasses.replace(
        request,
        lines=(
            *request.lines,
            ErpOrderLine("NO-SUCH-SKU", Decimal(1), Money(Decimal(1), "USD")),
        ),
    )

    with pytest.raises(BackendRejectedError) as raised:
        await connector.submit_order(request)

    assert "NO-SUCH-SKU" in raised.value.detail
    assert tryton_peer.manifest.parts[1].code not in raised.value.detail
    assert await sales_with_reference(backoffice, str(request.order_id)) == []
    assert await connector.find_order(request.order_id) is None


@pytest.mark.tryton
async def test_an_unknown_customer_is_rejected(
    connector: TrytonConnector, tryton_peer: TrytonPeer
) -> None:
    request = dataclasses.replace(order_request(tryton_peer), customer_ref="99999999")

    with pytest.raises(BackendRejectedError, match="unknown customer 99999999"):
        await connector.submit_order(request)


@pytest.mark.tryton
async def test_trytons_refusal_of_a_line_is_the_reason_and_makes_no_sale(
    connector: TrytonConnector, tryton_peer: TrytonPeer, backoffice: TrytonRpc
) -> None:
    # Tryton keeps four decimals of a unit price and refuses more.
    request = order_request(tryton_peer, [(3, "1", "10.123456")])

    with pytest.raises(BackendRejectedError) as raised:
        await connector.submit_order(request)

    assert "Unit Price" in raised.value.detail
    assert await sales_with_reference(backoffice, str(request.order_id)) == []


@pytest.mark.tryton
async def test_an_interrupted_submission_is_finished_not_duplicated(
    connector: TrytonConnector, tryton_peer: TrytonPeer, backoffice: TrytonRpc
) -> None:
    request = order_request(tryton_peer)
    # What a submission cut off between create and quote leaves behind.
    draft_id = await hand_made_sale(tryton_peer, backoffice, str(request.order_id))
    assert await connector.find_order(request.order_id) is None

    receipt = await connector.submit_order(request)

    assert receipt.external_id == str(draft_id)
    assert (await sale_state(backoffice, draft_id))["state"] == "processing"
    assert await sales_with_reference(backoffice, str(request.order_id)) == [draft_id]


@pytest.mark.tryton
async def test_a_sale_tryton_refuses_to_quote_is_removed_with_trytons_reason(
    connector: TrytonConnector, tryton_peer: TrytonPeer, backoffice: TrytonRpc
) -> None:
    request = order_request(tryton_peer)
    # An unfinished sale for the order that Tryton will not quote: it has no
    # addresses (one the connector makes always has them).
    draft_id = await hand_made_sale(
        tryton_peer, backoffice, str(request.order_id), addresses=False
    )

    with pytest.raises(BackendRejectedError) as raised:
        await connector.submit_order(request)

    assert "address" in raised.value.detail.lower()
    assert await sales_with_reference(backoffice, str(request.order_id)) == []
    assert draft_id not in await backoffice.model(
        "sale.sale", "search", [("id", "=", draft_id)]
    )


@pytest.mark.tryton
async def test_a_confirmed_order_cannot_be_cancelled_and_says_why(
    connector: TrytonConnector, tryton_peer: TrytonPeer, backoffice: TrytonRpc
) -> None:
    receipt = await connector.submit_order(order_request(tryton_peer))

    with pytest.raises(BackendRejectedError) as raised:
        await connector.cancel_order(receipt.external_id)

    assert "processing" in raised.value.detail
    assert receipt.number in raised.value.detail
    assert (await sale_state(backoffice, int(receipt.external_id)))[
        "state"
    ] == "processing"


@pytest.mark.tryton
async def test_a_quotation_is_cancelled_once_and_cancelling_again_is_fine(
    connector: TrytonConnector, tryton_peer: TrytonPeer, backoffice: TrytonRpc
) -> None:
    head = (await drain(connector, None))[1]
    sale_id = await hand_made_sale(tryton_peer, backoffice, "staff quotation")
    await backoffice.model("sale.sale", "quote", [sale_id])

    await connector.cancel_order(str(sale_id))
    await connector.cancel_order(str(sale_id))

    assert (await sale_state(backoffice, sale_id))["state"] == "cancelled"
    changes, _ = await drain(connector, head)
    (change,) = [c for c in changes if c.external_id == str(sale_id)]
    assert change.state is ErpOrderState.CANCELLED
    assert change.order_id is None


@pytest.mark.tryton
async def test_cancelling_an_unknown_sale_is_not_found(
    connector: TrytonConnector,
) -> None:
    with pytest.raises(BackendNotFoundError):
        await connector.cancel_order("987654321")
    with pytest.raises(BackendNotFoundError):
        await connector.cancel_order("not-an-id")


@pytest.mark.tryton
async def test_order_changes_follow_the_sale_from_accepted_to_invoiced(
    connector: TrytonConnector, tryton_peer: TrytonPeer, backoffice: TrytonRpc
) -> None:
    _, cursor = await drain(connector, None)
    request = order_request(tryton_peer, [(5, "1", "905.00"), (6, "3", "18.75")])

    receipt = await connector.submit_order(request)
    sale_id = int(receipt.external_id)
    changes, after_submit = await drain(connector, cursor)
    (accepted,) = [c for c in changes if c.external_id == receipt.external_id]
    assert accepted.order_id == request.order_id
    assert accepted.number == receipt.number
    assert accepted.state is ErpOrderState.ACCEPTED
    assert accepted.detail is None
    assert accepted.changed_at.tzinfo is dt.UTC
    assert (
        dt.timedelta(0)
        <= dt.datetime.now(dt.UTC) - accepted.changed_at
        < dt.timedelta(minutes=5)
    )

    await pick_sale(backoffice, sale_id)
    states, after_pick = await changes_of(connector, after_submit, receipt.external_id)
    assert states == [ErpOrderState.IN_FULFILMENT]

    await ship_sale(backoffice, sale_id)
    states, after_ship = await changes_of(connector, after_pick, receipt.external_id)
    assert states == [ErpOrderState.SHIPPED]
    assert (await sale_state(backoffice, sale_id))["shipment_state"] == "sent"

    assert await post_invoices(backoffice, sale_id) != []
    states, after_post = await changes_of(connector, after_ship, receipt.external_id)
    assert states == [ErpOrderState.INVOICED]
    assert (await sale_state(backoffice, sale_id))["invoice_state"] == (
        "awaiting payment"
    )

    assert await post_invoices(backoffice, sale_id) == []
    assert await connector.order_changes(after_post, 10) == ErpChangePage(
        (), after_post
    )


@pytest.mark.tryton
async def test_an_invoiced_change_carries_the_discount_and_tax_staff_settled(
    connector: TrytonConnector, tryton_peer: TrytonPeer, backoffice: TrytonRpc
) -> None:
    _, cursor = await drain(connector, None)
    request = order_request(
        tryton_peer, [(7, "4", "907.00"), (8, "2", "908.00"), (7, "1", "907.00")]
    )
    receipt = await connector.submit_order(request)
    sale_id = int(receipt.external_id)
    await ship_sale(backoffice, sale_id)
    _, after_ship = await drain(connector, cursor)

    posted = await settle_invoice(
        backoffice,
        sale_id,
        [
            LineSettlement(Decimal("861.6500"), Decimal("0.06")),
            LineSettlement(Decimal("908.00"), Decimal("0")),
            LineSettlement(Decimal("843.5100"), Decimal("0.08")),
        ],
        TaxBook(),
    )
    changes, _ = await drain(connector, after_ship)

    assert posted != []
    (invoiced,) = [c for c in changes if c.external_id == receipt.external_id]
    assert invoiced.state is ErpOrderState.INVOICED
    assert invoiced.line_terms == (
        ErpLineTerms(1, Decimal("861.6500"), Decimal("0.06")),
        ErpLineTerms(2, Decimal("908.00"), Decimal("0")),
        ErpLineTerms(3, Decimal("843.5100"), Decimal("0.08")),
    )


@pytest.mark.tryton
async def test_changes_before_the_invoice_carry_no_terms(
    connector: TrytonConnector, tryton_peer: TrytonPeer, backoffice: TrytonRpc
) -> None:
    _, cursor = await drain(connector, None)
    receipt = await connector.submit_order(order_request(tryton_peer))

    await ship_sale(backoffice, int(receipt.external_id))
    changes, _ = await drain(connector, cursor)

    mine = [c for c in changes if c.external_id == receipt.external_id]
    assert [c.state for c in mine][-1] is ErpOrderState.SHIPPED
    assert all(c.line_terms == () for c in mine)


@pytest.mark.tryton
async def test_paging_one_by_one_neither_repeats_nor_skips_a_change(
    connector: TrytonConnector, tryton_peer: TrytonPeer, backoffice: TrytonRpc
) -> None:
    _, start = await drain(connector, None)
    receipts = [
        await connector.submit_order(order_request(tryton_peer, [(k, "1", "100")]))
        for k in (7, 8, 9)
    ]
    sale_ids = [int(r.external_id) for r in receipts]
    await pick_sale(backoffice, sale_ids[0])
    # One write to all three: three changes at the same timestamp.
    await backoffice.model("sale.sale", "write", sale_ids, {"comment": "rush"})

    whole = await connector.order_changes(start, 1000)
    one_by_one, last = await drain(connector, start, limit=1)

    assert one_by_one == list(whole.changes)
    assert last == whole.cursor
    mine = {r.external_id for r in receipts}
    ours = [c for c in one_by_one if c.external_id in mine]
    # A sale is reported at its latest write, so the confirmations are gone
    # behind the shared write; the first sale's shipment was picked before it.
    assert [(c.external_id, c.state) for c in ours] == [
        (str(sale_ids[0]), ErpOrderState.IN_FULFILMENT),
        (str(sale_ids[0]), ErpOrderState.IN_FULFILMENT),
        (str(sale_ids[1]), ErpOrderState.ACCEPTED),
        (str(sale_ids[2]), ErpOrderState.ACCEPTED),
    ]
    tied = ours[-3:]
    assert len({c.changed_at for c in tied}) == 1
    times = [c.changed_at for c in one_by_one]
    assert times == sorted(times)
    assert (await connector.order_changes(last, 1)).changes == ()
    assert (await connector.order_changes(last, 1)).cursor == last


@pytest.mark.tryton
async def test_an_unreadable_cursor_is_rejected(connector: TrytonConnector) -> None:
    with pytest.raises(BackendRejectedError, match="cursor"):
        await connector.order_changes("2026-01-01|1", 10)


def sale_row(
    state: str = "processing",
    shipment_state: str = "waiting",
    invoice_state: str = "pending",
    shipments: Sequence[str] = ("waiting",),
) -> dict[str, object]:
    return {
        "state": state,
        "shipment_state": shipment_state,
        "invoice_state": invoice_state,
        "shipments.": [{"id": i, "state": s} for i, s in enumerate(shipments, 1)],
    }


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (sale_row(), ErpOrderState.ACCEPTED),
        (sale_row(state="confirmed", shipments=()), ErpOrderState.ACCEPTED),
        (sale_row(shipments=("assigned",)), ErpOrderState.IN_FULFILMENT),
        (sale_row(shipments=("packed", "cancelled")), ErpOrderState.IN_FULFILMENT),
        (
            sale_row(shipment_state="partially shipped", shipments=("done", "waiting")),
            ErpOrderState.IN_FULFILMENT,
        ),
        (sale_row(shipments=("shipped",)), ErpOrderState.SHIPPED),
        (sale_row(shipment_state="sent", shipments=("done",)), ErpOrderState.SHIPPED),
        # A posted invoice before the goods leave does not make it invoiced.
        (sale_row(invoice_state="awaiting payment"), ErpOrderState.ACCEPTED),
        (
            sale_row(
                shipment_state="sent",
                invoice_state="awaiting payment",
                shipments=("done",),
            ),
            ErpOrderState.INVOICED,
        ),
        (
            sale_row(shipments=("shipped",), invoice_state="partially paid"),
            ErpOrderState.INVOICED,
        ),
        (
            sale_row(shipment_state="none", invoice_state="paid", shipments=()),
            ErpOrderState.INVOICED,
        ),
        (sale_row(state="done", shipment_state="sent"), ErpOrderState.INVOICED),
        (sale_row(state="cancelled", shipments=()), ErpOrderState.CANCELLED),
    ],
)
def test_trytons_states_map_to_order_states(
    row: dict[str, object], expected: ErpOrderState
) -> None:
    assert order_state(row) == (expected, None)


def test_an_exception_in_tryton_is_the_detail() -> None:
    row = sale_row(shipment_state="exception", invoice_state="exception")

    assert order_state(row) == (
        ErpOrderState.ACCEPTED,
        "shipment exception in Tryton; invoice exception in Tryton",
    )


def test_a_cursor_survives_encoding() -> None:
    at = dt.datetime(2026, 12, 3, 18, 0, 0, 123456)
    cursor = ChangeCursor(Position(at, 42), None)

    assert cursor.encode() == "v1;2026-12-03T18:00:00.123456|42;-"
    assert ChangeCursor.decode(cursor.encode()) == cursor
    assert ChangeCursor.decode(None) == ChangeCursor()
    whole_second = ChangeCursor(None, Position(at.replace(microsecond=0), 7))
    assert ChangeCursor.decode(whole_second.encode()) == whole_second


@pytest.mark.parametrize(
    "text",
    [
        "",
        "v1;-",
        "v2;-;-",
        "v1;x|1;-",
        "v1;2026-01-01T00:00:00|a;-",
        "v1;2026-01-01T00:00:00+00:00|1;-",
    ],
)
def test_a_foreign_cursor_does_not_decode(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - any parse failure will do
        ChangeCursor.decode(text)
