"""The orders report against real PostgreSQL: grouping, the half-open
period, the default status filter, exact sums rounded once, unpriced orders,
tenant isolation and the file exports."""

from __future__ import annotations

import csv
import io
import uuid
import zipfile
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.accounts.scopes import Scope
from domain.orders.status import OrderStatus
from tests.gateway.reports.conftest import SUPPLIER_SCOPES, Line, add_order
from tests.support.factories import Caller, make_caller

Sessions = async_sessionmaker[AsyncSession]


async def report(
    client: httpx.AsyncClient, who: Caller, **params: Any
) -> httpx.Response:
    query = {"from": "2025-01-01", "to": "2025-07-01", **params}
    return await client.get("/v1/reports/orders", params=query, headers=who.headers)


def money(figures: dict[str, Any], *names: str) -> list[str]:
    return [figures[name]["amount"] for name in names]


MONEY = ("gross", "net", "discount", "tax", "total")


async def test_groups_by_month_with_exact_sums_and_a_total_per_currency(
    client: httpx.AsyncClient, caller: Caller, sessions: Sessions
) -> None:
    account = caller.account
    await add_order(
        sessions, account, date(2025, 1, 15), Line(2, "10.00", "9.00", "0.19")
    )
    await add_order(sessions, account, date(2025, 1, 31), Line(1, "5.00"))
    await add_order(sessions, account, date(2025, 2, 1), Line(3, "1.00", None, "0.07"))

    response = await report(
        client, caller, **{"from": "2025-01-01", "to": "2025-03-01"}, group_by="month"
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["from"], body["to"], body["group_by"]) == (
        "2025-01-01",
        "2025-03-01",
        "month",
    )
    assert body["account"] == str(account.id)
    january, february = body["groups"]
    assert (january["group"], january["currency"]) == ("2025-01", "EUR")
    assert (january["orders"], january["lines"], january["quantity"]) == (2, 2, 3)
    assert money(january, *MONEY) == ["25.00", "23.00", "2.00", "3.42", "26.42"]
    assert february["group"] == "2025-02"
    assert money(february, *MONEY) == ["3.00", "3.00", "0.00", "0.21", "3.21"]
    [totals] = body["totals"]
    assert (totals["currency"], totals["orders"], totals["quantity"]) == ("EUR", 3, 6)
    assert money(totals, *MONEY) == ["28.00", "26.00", "2.00", "3.63", "29.63"]
    assert totals["gross"] == {"amount": "28.00", "currency": "EUR"}


async def test_the_period_is_half_open_over_the_order_date(
    client: httpx.AsyncClient, caller: Caller, sessions: Sessions
) -> None:
    for day in (date(2024, 12, 31), date(2025, 1, 1), date(2025, 1, 31)):
        await add_order(sessions, caller.account, day, Line(1, "1.00"))
    await add_order(sessions, caller.account, date(2025, 2, 1), Line(1, "100.00"))

    body = (
        await report(client, caller, **{"from": "2025-01-01", "to": "2025-02-01"})
    ).json()

    assert [group["group"] for group in body["groups"]] == ["2025-01"]
    assert body["totals"][0]["orders"] == 2
    assert body["totals"][0]["gross"]["amount"] == "2.00"


async def test_sums_are_exact_and_rounded_half_up_only_at_the_end(
    client: httpx.AsyncClient, caller: Caller, sessions: Sessions
) -> None:
    account = caller.account
    # Each line rounded first would give 0.99.
    await add_order(
        sessions,
        account,
        date(2025, 1, 5),
        Line(1, "0.3333"),
        Line(1, "0.3333"),
        Line(1, "0.3333"),
    )
    await add_order(
        sessions, account, date(2025, 1, 6), Line(1, "100.5000"), currency="JPY"
    )
    # A binary float holds 1.005 as 1.00499..., which rounds to 1.00.
    await add_order(sessions, account, date(2025, 2, 5), Line(1, "1.0050"))
    # Tax 0.025 and total 0.525: half-even rounding would give 0.02 and 0.52.
    await add_order(
        sessions, account, date(2025, 3, 5), Line(1, "0.5000", None, "0.05")
    )

    # Tax 0.004 a line: 0.012 in all, though every line alone rounds to 0.00.
    await add_order(
        sessions,
        account,
        date(2025, 4, 5),
        *[Line(1, "0.1000", None, "0.04")] * 3,
    )

    body = (await report(client, caller, group_by="month")).json()

    rows = {(row["group"], row["currency"]): row for row in body["groups"]}
    assert list(rows) == [
        ("2025-01", "EUR"),
        ("2025-01", "JPY"),
        ("2025-02", "EUR"),
        ("2025-03", "EUR"),
        ("2025-04", "EUR"),
    ]
    assert money(rows[("2025-04", "EUR")], "tax", "total") == ["0.01", "0.31"]
    assert rows[("2025-01", "EUR")]["gross"]["amount"] == "1.00"
    assert rows[("2025-01", "JPY")]["gross"] == {"amount": "101", "currency": "JPY"}
    assert rows[("2025-02", "EUR")]["gross"]["amount"] == "1.01"
    assert money(rows[("2025-03", "EUR")], "tax", "total") == ["0.03", "0.53"]
    totals = {row["currency"]: row for row in body["totals"]}
    # 0.9999 + 1.0050 + 0.5000 + 0.3000, rounded once.
    assert totals["EUR"]["gross"]["amount"] == "2.80"
    # 0.025 + 0.012
    assert totals["EUR"]["tax"]["amount"] == "0.04"
    assert totals["JPY"]["total"]["amount"] == "101"


async def test_cancelled_and_rejected_orders_count_only_when_asked_for(
    client: httpx.AsyncClient, caller: Caller, sessions: Sessions
) -> None:
    for status in (
        OrderStatus.INVOICED,
        OrderStatus.PENDING_APPROVAL,
        OrderStatus.CANCELLED,
        OrderStatus.REJECTED,
    ):
        await add_order(
            sessions, caller.account, date(2025, 1, 2), Line(1, "1.00"), status=status
        )

    default = (await report(client, caller, group_by="status")).json()
    named = (
        await report(
            client, caller, group_by="status", status=["cancelled", "rejected"]
        )
    ).json()

    assert [row["group"] for row in default["groups"]] == [
        "invoiced",
        "pending_approval",
    ]
    assert "cancelled" not in default["statuses"]
    assert "rejected" not in default["statuses"]
    assert "submitted" in default["statuses"]
    assert [row["group"] for row in named["groups"]] == ["cancelled", "rejected"]
    assert named["statuses"] == ["rejected", "cancelled"]


async def test_groups_by_currency_each_in_its_own_minor_unit(
    client: httpx.AsyncClient, caller: Caller, sessions: Sessions
) -> None:
    await add_order(sessions, caller.account, date(2025, 1, 2), Line(3, "1.10"))
    await add_order(
        sessions, caller.account, date(2025, 4, 2), Line(2, "7.25"), currency="USD"
    )

    body = (await report(client, caller, group_by="currency")).json()

    assert [(row["group"], row["currency"]) for row in body["groups"]] == [
        ("EUR", "EUR"),
        ("USD", "USD"),
    ]
    assert [row["total"] for row in body["totals"]] == [
        {"amount": "3.30", "currency": "EUR"},
        {"amount": "14.50", "currency": "USD"},
    ]


async def test_orders_pending_pricing_are_counted_and_left_out_of_sums(
    client: httpx.AsyncClient, caller: Caller, sessions: Sessions
) -> None:
    await add_order(sessions, caller.account, date(2025, 1, 2), Line(1, "10.00"))
    await add_order(
        sessions, caller.account, date(2025, 1, 3), Line(5, None), Line(2, None)
    )

    body = (await report(client, caller)).json()

    [group] = body["groups"]
    assert (group["orders"], group["orders_pending_pricing"]) == (2, 1)
    assert (group["lines"], group["quantity"]) == (1, 1)
    assert group["gross"]["amount"] == "10.00"
    assert body["totals"][0]["orders_pending_pricing"] == 1


async def test_a_group_of_unpriced_orders_only_sums_to_zero(
    client: httpx.AsyncClient, caller: Caller, sessions: Sessions
) -> None:
    await add_order(sessions, caller.account, date(2025, 1, 3), Line(5, None))

    [group] = (await report(client, caller)).json()["groups"]

    assert (group["orders"], group["orders_pending_pricing"], group["lines"]) == (
        1,
        1,
        0,
    )
    assert money(group, *MONEY) == ["0.00"] * 5


async def test_an_account_sees_only_its_own_orders(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    first = await make_caller(sessions, name="First Dealer")
    second = await make_caller(sessions, name="Second Dealer")
    await add_order(sessions, first.account, date(2025, 1, 2), Line(1, "1.00"))
    await add_order(sessions, second.account, date(2025, 1, 2), Line(1, "50.00"))

    own = await report(client, first)
    by_id = await report(client, first, account=str(first.account.id))
    everyone = await report(client, first, account="all")
    other = await report(client, first, account=str(second.account.id))
    nobody = await report(client, first, account=str(uuid.uuid4()))

    assert own.json()["totals"][0]["gross"]["amount"] == "1.00"
    assert by_id.json()["totals"] == own.json()["totals"]
    for refused in (everyone, other, nobody):
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "forbidden"
        assert "reports:all" in refused.json()["detail"]


async def test_an_admin_key_is_not_a_supplier_key(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    admin = await make_caller(sessions, scopes=frozenset({Scope.ADMIN}))

    own = await report(client, admin)
    everyone = await report(client, admin, account="all")

    assert own.status_code == 200
    assert everyone.status_code == 403


async def test_reports_all_sees_every_account_or_the_one_it_names(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    supplier = await make_caller(sessions, name="Supplier", scopes=SUPPLIER_SCOPES)
    first = await make_caller(sessions, name="First Dealer")
    second = await make_caller(sessions, name="Second Dealer")
    await add_order(sessions, first.account, date(2025, 1, 2), Line(1, "1.00"))
    await add_order(sessions, second.account, date(2025, 2, 2), Line(2, "50.00"))

    everyone = await report(client, supplier, account="all", group_by="account")
    named = await report(client, supplier, account=str(second.account.id))
    own = await report(client, supplier)
    unknown = await report(client, supplier, account=str(uuid.uuid4()))
    malformed = await report(client, supplier, account="everyone")

    body = everyone.json()
    assert body["account"] == "all"
    assert [(row["group"], row["gross"]["amount"]) for row in body["groups"]] == sorted(
        [(str(first.account.id), "1.00"), (str(second.account.id), "100.00")]
    )
    assert body["totals"][0]["gross"]["amount"] == "101.00"
    assert named.json()["account"] == str(second.account.id)
    assert named.json()["totals"][0]["gross"]["amount"] == "100.00"
    assert own.json()["groups"] == []
    assert own.json()["totals"] == []
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "not_found"
    assert malformed.status_code == 422
    assert malformed.json()["errors"][0]["location"] == "account"


@pytest.mark.parametrize(
    ("params", "location"),
    [
        ({"from": "2025-02-01", "to": "2025-02-01"}, "to"),
        ({"from": "2025-02-01", "to": "2025-01-01"}, "to"),
        ({"group_by": "week"}, "query.group_by"),
        ({"status": "lost"}, "query.status[0]"),
        ({"from": "yesterday"}, "query.from"),
    ],
)
async def test_bad_parameters_are_a_422_naming_the_field(
    client: httpx.AsyncClient, caller: Caller, params: dict[str, str], location: str
) -> None:
    response = await report(client, caller, **params)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert location in [error["location"] for error in response.json()["errors"]]


async def test_a_bound_left_out_leaves_the_period_open_on_that_side(
    client: httpx.AsyncClient, caller: Caller, sessions: Sessions
) -> None:
    for day in (date(1995, 3, 1), date(2025, 1, 1), date(2026, 6, 1)):
        await add_order(sessions, caller.account, day, Line(1, "1.00"))

    def months(response: httpx.Response) -> list[str]:
        return [group["group"] for group in response.json()["groups"]]

    unbounded = await client.get("/v1/reports/orders", headers=caller.headers)
    until = await client.get(
        "/v1/reports/orders", params={"to": "2025-01-01"}, headers=caller.headers
    )
    since = await client.get(
        "/v1/reports/orders", params={"from": "2025-01-01"}, headers=caller.headers
    )

    assert unbounded.status_code == 200, unbounded.text
    assert (unbounded.json()["from"], unbounded.json()["to"]) == (None, None)
    assert months(unbounded) == ["1995-03", "2025-01", "2026-06"]
    assert months(until) == ["1995-03"]
    assert months(since) == ["2025-01", "2026-06"]
    assert since.json()["from"] == "2025-01-01"


async def test_a_key_without_reports_read_is_refused(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    reader = await make_caller(sessions, scopes=frozenset({Scope.ORDERS_READ}))

    response = await report(client, reader)
    export = await client.get(
        "/v1/reports/orders/export",
        params={"from": "2025-01-01", "to": "2025-02-01"},
        headers=reader.headers,
    )

    assert response.status_code == 403
    assert "reports:read" in response.json()["detail"]
    assert export.status_code == 403


async def test_exports_carry_the_same_rows_as_csv_and_xlsx(
    client: httpx.AsyncClient, caller: Caller, sessions: Sessions
) -> None:
    await add_order(sessions, caller.account, date(2025, 1, 2), Line(3, "0.3333"))
    await add_order(
        sessions, caller.account, date(2025, 2, 2), Line(1, "2.00", "1.50", "0.2")
    )
    params = {"from": "2025-01-01", "to": "2025-03-01", "group_by": "month"}

    as_csv = await client.get(
        "/v1/reports/orders/export",
        params={**params, "format": "csv"},
        headers=caller.headers,
    )
    as_xlsx = await client.get(
        "/v1/reports/orders/export",
        params={**params, "format": "xlsx"},
        headers=caller.headers,
    )

    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert (
        'filename="orders-report-from-2025-01-01-to-2025-03-01.csv"'
        in (as_csv.headers["content-disposition"])
    )
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [
        (row["group"], row["currency"], row["orders"], row["gross"], row["total"])
        for row in rows
    ] == [
        ("2025-01", "EUR", "1", "1.00", "1.00"),
        ("2025-02", "EUR", "1", "2.00", "1.80"),
        ("total", "EUR", "2", "3.00", "2.80"),
    ]
    assert rows[1]["discount"] == "0.50"
    assert as_xlsx.status_code == 200
    assert as_xlsx.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    with zipfile.ZipFile(io.BytesIO(as_xlsx.content)) as workbook:
        assert workbook.testzip() is None
        # openpyxl is not a dependency: read the sheet's XML, where
        # constant_memory mode writes every string inline.
        sheet = workbook.read("xl/worksheets/sheet1.xml").decode()
    for cell in (
        "orders_pending_pricing",
        "2025-01",
        "2025-02",
        "total",
        "2.80",
        "0.50",
    ):
        assert f"<t>{cell}</t>" in sheet
