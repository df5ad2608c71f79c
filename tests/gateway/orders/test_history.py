"""Order history: stable cursor pages (C08), filters, tenant isolation (C10),
detail, cancel, reorder and export."""

import csv
import io
import uuid
import zipfile
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.money import Money
from domain.orders.erp import ErpOrderState
from domain.orders.model import ChangeSource, Order, OrderLine
from domain.orders.status import OrderStatus
from gateway.db.engine import transaction
from gateway.db.tables import DocumentRow, OrderRow
from gateway.orders.repository import OrderRepository
from tests.gateway.orders.conftest import Worker, linked_caller, order_body, place
from tests.gateway.orders.test_placement import TIMESTAMPS_FOR_A_DATE
from tests.support.backends import InMemoryErp
from tests.support.factories import Caller

SORTS = ["created_at", "-created_at", "total", "-total", "status", "-status"]


async def five_orders_in_one_transaction(
    sessions: async_sessionmaker[AsyncSession], caller: Caller
) -> list[str]:
    """Five orders with the same created_at; two of them unpriced and two
    without an ERP number, so every sort key has ties and nulls."""
    ids = []
    async with transaction(sessions) as session:
        repository = OrderRepository(session)
        for index in range(5):
            price = (
                None if index in {1, 3} else Money(Decimal(10 * (index % 2 + 1)), "USD")
            )
            order = Order(
                id=uuid.uuid4(),
                account_id=caller.account.id,
                status=OrderStatus.SUBMITTED if index < 3 else OrderStatus.ACCEPTED,
                currency="USD",
                lines=[OrderLine(1, "P1", 1, price)],
                requested_date=None,
                customer_reference=f"PO-{index}",
                created_at=datetime.now(UTC),
                order_date=datetime.now(UTC).date(),
            )
            await repository.add(order, erp_system="erp", reordered_from=None)
            await repository.record_initial(order, ChangeSource.API, None)
            if index in {0, 2, 4}:
                await session.execute(
                    update(OrderRow)
                    .where(OrderRow.id == order.id)
                    .values(erp_number=f"SO{index}")
                )
            ids.append(str(order.id))
    return ids


@pytest.mark.parametrize("sort", SORTS)
async def test_c08_cursor_ties_every_order_once_in_every_sort(
    api: httpx.AsyncClient,
    dealer: Caller,
    sessions: async_sessionmaker[AsyncSession],
    sort: str,
) -> None:
    created = await five_orders_in_one_transaction(sessions, dealer)
    seen: list[str] = []
    cursor: str | None = None
    cursors: list[str] = []

    for _ in range(10):
        params: dict[str, str | int] = {"limit": 2, "sort": sort}
        if cursor:
            params["cursor"] = cursor
        page = (
            await api.get("/v1/orders", params=params, headers=dealer.headers)
        ).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert cursor not in cursors, "the cursor must move forward"
        cursors.append(cursor)

    assert sorted(seen) == sorted(created)
    assert len(seen) == len(set(seen))


async def test_c10_another_accounts_order_is_not_found(
    api: httpx.AsyncClient, dealer: Caller, sessions: async_sessionmaker[AsyncSession]
) -> None:
    other = await linked_caller(sessions, customer_ref="CUST-2", name="Other")
    theirs = (await place(api, other, order_body(("P1", 1)))).json()["id"]

    read = await api.get(f"/v1/orders/{theirs}", headers=dealer.headers)
    cancel = await api.post(f"/v1/orders/{theirs}/cancel", headers=dealer.headers)
    reorder = await api.post(
        f"/v1/orders/{theirs}/reorder",
        headers={**dealer.headers, "Idempotency-Key": "k1"},
    )
    missing = await api.get(f"/v1/orders/{uuid.uuid4()}", headers=dealer.headers)

    # Exactly what an id that exists nowhere gets: existence is not revealed.
    for response in (read, cancel, reorder, missing):
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
        assert "Other" not in response.text


async def test_c10_a_cursor_from_another_account_is_refused(
    api: httpx.AsyncClient, dealer: Caller, sessions: async_sessionmaker[AsyncSession]
) -> None:
    other = await linked_caller(sessions, customer_ref="CUST-2", name="Other")
    for _ in range(3):
        await place(api, other, order_body(("P1", 1)))
    their_cursor = (await api.get("/v1/orders?limit=1", headers=other.headers)).json()[
        "next_cursor"
    ]

    reused = await api.get(
        "/v1/orders",
        params={"limit": 1, "cursor": their_cursor},
        headers=dealer.headers,
    )
    forged = await api.get(
        "/v1/orders",
        params={"cursor": their_cursor[:-4] + "AAAA"},
        headers=other.headers,
    )

    assert reused.status_code == 422
    assert reused.json()["errors"][0]["location"] == "cursor"
    assert forged.status_code == 422


async def test_filters_by_status_reference_and_local_dates(
    api: httpx.AsyncClient, dealer: Caller, sessions: async_sessionmaker[AsyncSession]
) -> None:
    first = (
        await place(api, dealer, order_body(("P1", 1), customer_reference="PO-A1"))
    ).json()
    await place(api, dealer, order_body(("P2", 1), customer_reference="PO-B2"))
    await api.post(f"/v1/orders/{first['id']}/cancel", headers=dealer.headers)
    # 23:30 UTC on 1 March is already 2 March in Berlin, the account's zone.
    async with transaction(sessions) as session:
        await session.execute(
            update(OrderRow)
            .where(OrderRow.id == uuid.UUID(first["id"]))
            .values(created_at=datetime(2026, 3, 1, 23, 30, tzinfo=UTC))
        )

    def ids(response: httpx.Response) -> list[str]:
        return [item["customer_reference"] for item in response.json()["items"]]

    cancelled = await api.get("/v1/orders?status=cancelled", headers=dealer.headers)
    by_text = await api.get("/v1/orders?reference=b2", headers=dealer.headers)
    on_march_2 = await api.get(
        "/v1/orders?created_from=2026-03-02&created_to=2026-03-02",
        headers=dealer.headers,
    )
    on_march_1 = await api.get(
        "/v1/orders?created_from=2026-03-01&created_to=2026-03-01",
        headers=dealer.headers,
    )

    assert ids(cancelled) == ["PO-A1"]
    assert ids(by_text) == ["PO-B2"]
    assert ids(on_march_2) == ["PO-A1"]
    assert ids(on_march_1) == []


def aware(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() is not None, f"{value} has no offset"
    return parsed


async def test_c04_order_times_are_timestamptz_and_returned_with_an_offset(
    api: httpx.AsyncClient, dealer: Caller, sessions: async_sessionmaker[AsyncSession]
) -> None:
    order_id = (await place(api, dealer, order_body(("P1", 1)))).json()["id"]
    async with transaction(sessions) as session:
        await session.execute(
            text(
                "UPDATE orders SET created_at = '2025-03-30T01:30:00+03:00' "
                "WHERE id = :id"
            ),
            {"id": uuid.UUID(order_id)},
        )
        in_utc = await session.scalar(
            text("SELECT created_at AT TIME ZONE 'UTC' FROM orders WHERE id = :id"),
            {"id": uuid.UUID(order_id)},
        )
        columns = await session.execute(
            text(
                "SELECT table_name || '.' || column_name, data_type "
                "FROM information_schema.columns WHERE table_name IN "
                "('orders', 'order_timeline') AND column_name IN "
                "('created_at', 'updated_at', 'next_attempt_at', 'at')"
            )
        )
        column_types = {str(name): str(kind) for name, kind in columns}

    detail = (await api.get(f"/v1/orders/{order_id}", headers=dealer.headers)).json()
    listed = (await api.get("/v1/orders", headers=dealer.headers)).json()

    assert column_types == {
        "orders.created_at": "timestamp with time zone",
        "orders.updated_at": "timestamp with time zone",
        "orders.next_attempt_at": "timestamp with time zone",
        "order_timeline.at": "timestamp with time zone",
    }
    # 01:30 at +03:00 is 22:30 UTC the day before.
    assert in_utc == datetime(2025, 3, 29, 22, 30)
    assert aware(detail["created_at"]) == datetime(2025, 3, 29, 22, 30, tzinfo=UTC)
    assert aware(listed["items"][0]["created_at"]) == aware(detail["created_at"])
    for step in detail["timeline"]:
        aware(step["at"])


@pytest.mark.parametrize("value", TIMESTAMPS_FOR_A_DATE)
@pytest.mark.parametrize("name", ["created_from", "created_to"])
async def test_c04_a_timestamp_in_a_date_filter_is_a_422_never_a_500(
    api: httpx.AsyncClient, dealer: Caller, name: str, value: object
) -> None:
    await place(api, dealer, order_body(("P1", 1)))

    listing = await api.get(
        "/v1/orders", params={name: str(value)}, headers=dealer.headers
    )
    export = await api.get(
        "/v1/orders/export", params={name: str(value)}, headers=dealer.headers
    )

    for response in (listing, export):
        assert response.status_code == 422, response.text
        [error] = response.json()["errors"]
        assert error["location"] == f"query.{name}"
        assert "not a timestamp" in error["message"]


async def test_a_date_range_ending_before_it_starts_is_a_422(
    api: httpx.AsyncClient, dealer: Caller
) -> None:
    params = {"created_from": "2025-03-02", "created_to": "2025-03-01"}

    listing = await api.get("/v1/orders", params=params, headers=dealer.headers)
    export = await api.get("/v1/orders/export", params=params, headers=dealer.headers)

    for response in (listing, export):
        assert response.status_code == 422, response.text
        [error] = response.json()["errors"]
        assert error["location"] == "created_to"


async def test_the_detail_shows_lines_totals_erp_number_and_timeline(
    api: httpx.AsyncClient, dealer: Caller, worker: Worker, erp: InMemoryErp
) -> None:
    order_id = (await place(api, dealer, order_body(("P1", 2)))).json()["id"]
    await worker.submit()
    erp.move("1", ErpOrderState.SHIPPED)
    erp.move("1", ErpOrderState.INVOICED)
    await worker.poll()
    await worker.poll()

    detail = (await api.get(f"/v1/orders/{order_id}", headers=dealer.headers)).json()

    assert detail["erp_number"] == "SO1"
    assert [step["status"] for step in detail["timeline"]] == [
        "submitted",
        "accepted",
        "shipped",
        "invoiced",
    ]
    assert [step["source"] for step in detail["timeline"]] == [
        "api",
        "erp",
        "erp",
        "erp",
    ]
    assert detail["lines"][0]["line_total"] == {"amount": "18.00", "currency": "USD"}


async def test_cancel_where_allowed_and_a_409_naming_the_state_where_not(
    api: httpx.AsyncClient, dealer: Caller, worker: Worker, erp: InMemoryErp
) -> None:
    fresh = (await place(api, dealer, order_body(("P1", 1)))).json()["id"]
    shipped = (await place(api, dealer, order_body(("P2", 1)))).json()["id"]
    await worker.submit()
    external = next(k for k, v in erp.orders.items() if str(v.order_id) == shipped)
    erp.move(external, ErpOrderState.SHIPPED)
    await worker.poll()
    cancelled_in_erp = [k for k, v in erp.orders.items() if str(v.order_id) == fresh]

    ok = await api.post(f"/v1/orders/{fresh}/cancel", headers=dealer.headers)
    refused = await api.post(f"/v1/orders/{shipped}/cancel", headers=dealer.headers)

    assert ok.status_code == 200
    assert ok.json()["status"] == "cancelled"
    assert "cancel_order" in erp.calls
    assert cancelled_in_erp
    assert refused.status_code == 409
    assert "shipped" in refused.json()["detail"]
    assert "return" in refused.json()["detail"]


async def test_reorder_places_the_same_lines_at_todays_prices(
    api: httpx.AsyncClient, dealer: Caller, erp: InMemoryErp
) -> None:
    original = (await place(api, dealer, order_body(("P3", 2)))).json()
    erp.add("P3", "40.00", stock=10)
    key = {"Idempotency-Key": "reorder-1"}

    again = await api.post(
        f"/v1/orders/{original['id']}/reorder", headers={**dealer.headers, **key}
    )
    replay = await api.post(
        f"/v1/orders/{original['id']}/reorder", headers={**dealer.headers, **key}
    )

    assert again.status_code == 201
    assert again.json()["id"] != original["id"]
    assert again.json()["lines"][0]["unit_price"]["amount"] == "36.00"
    assert original["lines"][0]["unit_price"]["amount"] == "27.00"
    assert replay.content == again.content


async def test_export_csv_and_xlsx(api: httpx.AsyncClient, dealer: Caller) -> None:
    for sku, reference in [("P1", "A"), ("P2", "B"), ("P3", "C")]:
        await place(api, dealer, order_body((sku, 2), customer_reference=reference))

    as_csv = await api.get(
        "/v1/orders/export?format=csv&reference=B", headers=dealer.headers
    )
    as_xlsx = await api.get("/v1/orders/export?format=xlsx", headers=dealer.headers)

    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert [(row["sku"], row["quantity"], row["line_total"]) for row in rows] == [
        ("P2", "2", "36.00")
    ]
    assert as_xlsx.status_code == 200
    with zipfile.ZipFile(io.BytesIO(as_xlsx.content)) as workbook:
        # constant_memory mode writes strings inline in the sheet.
        strings = workbook.read("xl/worksheets/sheet1.xml").decode()
    assert all(sku in strings for sku in ("P1", "P2", "P3"))


async def test_exports_never_turn_a_reference_into_a_formula(
    api: httpx.AsyncClient, dealer: Caller
) -> None:
    formula = '=HYPERLINK("http://evil","x")'
    await place(api, dealer, order_body(("P1", 1), customer_reference=formula))

    as_csv = await api.get("/v1/orders/export?format=csv", headers=dealer.headers)
    as_xlsx = await api.get("/v1/orders/export?format=xlsx", headers=dealer.headers)

    [row] = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert row["customer_reference"] == "'" + formula
    with zipfile.ZipFile(io.BytesIO(as_xlsx.content)) as workbook:
        sheet = workbook.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet
    assert "HYPERLINK" in sheet


@pytest.mark.parametrize("reference", ["a\u0000b", "red\r\nInjected: x", "\u001b[31m"])
async def test_control_characters_in_a_reference_are_a_422(
    api: httpx.AsyncClient, dealer: Caller, reference: str
) -> None:
    response = await place(
        api, dealer, order_body(("P1", 1), customer_reference=reference)
    )

    assert response.status_code == 422


async def test_the_detail_lists_the_orders_documents_and_only_its_own(
    api: httpx.AsyncClient, dealer: Caller, sessions: async_sessionmaker[AsyncSession]
) -> None:
    order_id = (await place(api, dealer, order_body(("P1", 2)))).json()["id"]
    other_order = (await place(api, dealer, order_body(("P2", 1)))).json()["id"]
    async with transaction(sessions) as session:
        for number, order in (("INV-1", order_id), ("INV-2", other_order)):
            session.add(
                DocumentRow(
                    id=uuid.uuid4(),
                    account_id=dealer.account.id,
                    type="invoice",
                    number=number,
                    status="issued",
                    issue_date=datetime(2026, 3, 1, tzinfo=UTC).date(),
                    due_date=None,
                    amount=Decimal("18.00"),
                    currency="USD",
                    order_id=uuid.UUID(order),
                    source_system="erp",
                    external_ref=number,
                    source_changed_at=datetime.now(UTC),
                )
            )

    detail = (await api.get(f"/v1/orders/{order_id}", headers=dealer.headers)).json()

    assert [document["number"] for document in detail["documents"]] == ["INV-1"]
    assert detail["documents"][0]["amount"] == {"amount": "18.00", "currency": "USD"}
