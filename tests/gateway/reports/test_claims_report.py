"""The claims report against real PostgreSQL: counts by type and status,
mean answer and resolution times, SLA breaches (open claims past due too),
each account's own calendar, tenant isolation and the file exports."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.accounts.model import Account
from domain.claims.model import ClaimType
from domain.claims.status import ClaimStatus
from tests.gateway.reports.conftest import SUPPLIER_SCOPES, Line, add_claim, add_order
from tests.support.factories import Caller, make_caller

Sessions = async_sessionmaker[AsyncSession]
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")
#: A Monday morning in New York; every deadline below is long past today.
FILED = datetime(2025, 3, 3, 9, 0, tzinfo=NEW_YORK)
HOUR = timedelta(hours=1)
MARCH = {"from": "2025-03-01", "to": "2025-04-01"}
APRIL = {"from": "2025-04-01", "to": "2025-05-01"}


async def report(
    client: httpx.AsyncClient, who: Caller, params: dict[str, str], **extra: str
) -> httpx.Response:
    return await client.get(
        "/v1/reports/claims", params={**params, **extra}, headers=who.headers
    )


async def dealer_in(sessions: Sessions, zone: ZoneInfo, name: str) -> Caller:
    return await make_caller(sessions, name=name, timezone=zone.key)


async def file_claims(sessions: Sessions, account: Account) -> None:
    """Five claims filed on one Monday, with answers and settlements of every
    kind: in time, late, never, withdrawn."""
    order_id = await add_order(sessions, account, date(2025, 2, 20), Line(5, "10.00"))
    await add_claim(
        sessions,
        account,
        order_id,
        FILED,
        status=ClaimStatus.RESOLVED,
        first_answered_at=FILED + 2 * HOUR,
        settled_at=FILED + 10 * HOUR,
    )
    await add_claim(
        sessions,
        account,
        order_id,
        FILED,
        status=ClaimStatus.IN_REVIEW,
        first_answered_at=FILED + 4 * HOUR,
    )
    await add_claim(
        sessions, account, order_id, FILED, type=ClaimType.RETURN
    )  # never answered, still open
    await add_claim(
        sessions,
        account,
        order_id,
        FILED,
        type=ClaimType.WARRANTY,
        status=ClaimStatus.WITHDRAWN,
        settled_at=FILED + HOUR,
    )
    # A complaint is due an answer within 24 working hours: Tuesday 09:00.
    await add_claim(
        sessions,
        account,
        order_id,
        FILED,
        status=ClaimStatus.REJECTED,
        first_answered_at=FILED + 30 * HOUR,
        settled_at=FILED + 30 * HOUR,
    )


def clocks(figures: dict[str, Any]) -> tuple[Any, ...]:
    answer, resolution = figures["first_answer"], figures["resolution"]
    return (
        figures["claims"],
        (answer["measured"], answer["mean_seconds"], answer["breached"]),
        (resolution["measured"], resolution["mean_seconds"], resolution["breached"]),
    )


async def test_counts_means_and_breaches(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    dealer = await dealer_in(sessions, NEW_YORK, "Hudson Dealer")
    await file_claims(sessions, dealer.account)

    response = await report(client, dealer, MARCH)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["from"], body["to"], body["account"]) == (
        "2025-03-01",
        "2025-04-01",
        str(dealer.account.id),
    )
    # Answers after 2, 4 and 30 hours; settlements after 10 and 30 hours (the
    # withdrawal is no settlement); late: the open return twice, the 30-hour
    # answer, the complaint still in review.
    assert clocks(body["totals"]) == (5, (3, 12 * 3600.0, 2), (2, 20 * 3600.0, 2))
    by_type = {row["type"]: row for row in body["by_type"]}
    assert list(by_type) == ["complaint", "return", "warranty"]
    assert clocks(by_type["complaint"]) == (3, (3, 43200.0, 1), (2, 72000.0, 1))
    assert clocks(by_type["return"]) == (1, (0, None, 1), (0, None, 1))
    assert clocks(by_type["warranty"]) == (1, (0, None, 0), (0, None, 0))
    by_status = {row["status"]: row["claims"] for row in body["by_status"]}
    assert by_status == {
        "submitted": 1,
        "in_review": 1,
        "awaiting_customer": 0,
        "approved": 0,
        "rejected": 1,
        "resolved": 1,
        "closed": 0,
        "withdrawn": 1,
    }
    assert [
        (cell["type"], cell["status"], cell["claims"])
        for cell in body["by_type_and_status"]
    ] == [
        ("complaint", "in_review", 1),
        ("complaint", "rejected", 1),
        ("complaint", "resolved", 1),
        ("return", "submitted", 1),
        ("warranty", "withdrawn", 1),
    ]


async def test_a_claim_counts_on_its_accounts_local_day(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    supplier = await make_caller(sessions, name="Supplier", scopes=SUPPLIER_SCOPES)
    hudson = await dealer_in(sessions, NEW_YORK, "Hudson Dealer")
    ginza = await dealer_in(sessions, TOKYO, "Ginza Dealer")
    for dealer, filed in (
        # 03:30 on 1 April in UTC, still 31 March in New York.
        (hudson, datetime(2025, 3, 31, 23, 30, tzinfo=NEW_YORK)),
        # 15:30 on 31 March in UTC, already 1 April in Tokyo.
        (ginza, datetime(2025, 4, 1, 0, 30, tzinfo=TOKYO)),
    ):
        order_id = await add_order(
            sessions, dealer.account, date(2025, 3, 1), Line(1, "1.00")
        )
        await add_claim(sessions, dealer.account, order_id, filed)

    hudson_march = await report(client, hudson, MARCH)
    hudson_april = await report(client, hudson, APRIL)
    hudson_ever = await report(client, hudson, {})
    hudson_since_april = await report(client, hudson, {"from": APRIL["from"]})
    all_march = await report(client, supplier, MARCH, account="all")
    all_april = await report(client, supplier, APRIL, account="all")
    ginza_april = await report(client, supplier, APRIL, account=str(ginza.account.id))

    assert hudson_march.json()["totals"]["claims"] == 1
    assert hudson_april.json()["totals"]["claims"] == 0
    assert hudson_ever.json()["totals"]["claims"] == 1
    assert hudson_since_april.json()["totals"]["claims"] == 0
    assert all_march.json()["account"] == "all"
    assert all_march.json()["totals"]["claims"] == 1
    assert all_march.json()["by_type_and_status"][0]["claims"] == 1
    assert all_april.json()["totals"]["claims"] == 1
    assert ginza_april.json()["totals"]["claims"] == 1
    assert ginza_april.json()["account"] == str(ginza.account.id)


async def test_an_account_sees_only_its_own_claims(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    first = await dealer_in(sessions, NEW_YORK, "First Dealer")
    second = await dealer_in(sessions, NEW_YORK, "Second Dealer")
    await file_claims(sessions, second.account)

    own = await report(client, first, MARCH)
    everyone = await report(client, first, MARCH, account="all")
    other = await report(client, first, MARCH, account=str(second.account.id))

    assert own.status_code == 200
    assert clocks(own.json()["totals"]) == (0, (0, None, 0), (0, None, 0))
    assert own.json()["by_type_and_status"] == []
    assert everyone.status_code == 403
    assert other.status_code == 403
    assert other.json()["code"] == "forbidden"


async def test_to_must_be_after_from(client: httpx.AsyncClient, caller: Caller) -> None:
    response = await report(client, caller, {"from": "2025-04-01", "to": "2025-03-01"})

    assert response.status_code == 422
    assert response.json()["errors"][0]["location"] == "to"


async def test_exports_carry_every_level_as_csv_and_xlsx(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    dealer = await dealer_in(sessions, NEW_YORK, "Hudson Dealer")
    await file_claims(sessions, dealer.account)

    as_csv = await client.get(
        "/v1/reports/claims/export",
        params={**MARCH, "format": "csv"},
        headers=dealer.headers,
    )
    as_xlsx = await client.get(
        "/v1/reports/claims/export",
        params={**MARCH, "format": "xlsx"},
        headers=dealer.headers,
    )

    assert as_csv.status_code == 200, as_csv.text
    assert (
        "claims-report-from-2025-03-01-to-2025-04-01.csv"
        in (as_csv.headers["content-disposition"])
    )
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    levels = [row["level"] for row in rows]
    assert levels == ["type_status"] * 5 + ["type"] * 3 + ["status"] * 8 + ["total"]
    total = rows[-1]
    assert (
        total["claims"],
        total["first_answer_measured"],
        total["first_answer_mean_seconds"],
        total["first_answer_breached"],
        total["resolution_mean_seconds"],
        total["resolution_breached"],
    ) == ("5", "3", "43200.0", "2", "72000.0", "2")
    returns = next(
        row for row in rows if row["level"] == "type" and row["type"] == "return"
    )
    assert returns["first_answer_mean_seconds"] == ""
    assert as_xlsx.status_code == 200
    with zipfile.ZipFile(io.BytesIO(as_xlsx.content)) as workbook:
        assert workbook.testzip() is None
        sheet = workbook.read("xl/worksheets/sheet1.xml").decode()
    for cell in ("type_status", "complaint", "withdrawn", "total"):
        assert f"<t>{cell}</t>" in sheet
    assert "<v>43200</v>" in sheet
