"""Report endpoints: order figures and claim figures, as JSON or files."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Final, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from domain.accounts.scopes import Scope
from domain.orders.status import OrderStatus
from gateway.accounts.service import Principal
from gateway.api.dependencies import DbSession, require
from gateway.api.problems import problem_responses
from gateway.api.routing import PorticoRoute
from gateway.api.types import FilterDate
from gateway.documents.export import XLSX_MEDIA_TYPE
from gateway.reports import service
from gateway.reports.export import claims_report_export, orders_report_export
from gateway.reports.repository import OrderGrouping, Period
from gateway.reports.schemas import ClaimsReportRead, OrdersReportRead
from gateway.reports.service import ClaimsReportRequest, OrdersReportRequest

router = APIRouter(prefix="/v1/reports", route_class=PorticoRoute, tags=["reports"])

ReportsReader = Annotated[Principal, Depends(require(Scope.REPORTS_READ))]
FormatParameter = Annotated[Literal["csv", "xlsx"], Query()]

ACCOUNT_HELP: Final = (
    "`me` (the default): the caller's own account. `all`, or another "
    "account's id, needs the `reports:all` scope (403 without it; 404 for an "
    "id no account has)."
)
ORDERS_HELP: Final = """\
Order figures for orders whose `order_date` (the customer's own order date,
in its account's calendar) lies in the half-open period [`from`, `to`):
`from=2025-01-01&to=2025-02-01` is January. Either may be left out, and the
period is then open on that side.

Without `status`, every status except `cancelled` and `rejected` counts.
One row per group and currency, sorted by group then currency, and one
total per currency. Sums are exact over every line and rounded once, half
up, to the currency's minor unit; an order the ERP has not priced yet is
counted in `orders` and `orders_pending_pricing` and left out of every sum.
"""
CLAIMS_HELP: Final = """\
Claim figures for claims filed on days [`from`, `to`) (either bound may be
left out), each day taken in the filing account's own time zone. Counts by
type, by status and by both; mean time to first answer and to resolution,
in seconds, with the number of claims each mean is over; and SLA breaches,
where a claim still open past its deadline counts as a breach.
"""
FILE_RESPONSES: Final = {
    200: {
        "content": {"text/csv": {}, XLSX_MEDIA_TYPE: {}},
        "description": "The report as a file, one line per row of the JSON.",
    },
    **problem_responses(401, 403, 404, 422),
}


AccountParameter = Annotated[str, Query(max_length=64, description=ACCOUNT_HELP)]
FromParameter = Annotated[
    FilterDate | None,
    Query(alias="from", description="The first day counted; default: no bound."),
]
ToParameter = Annotated[
    FilterDate | None,
    Query(
        alias="to",
        description="The first day no longer counted (exclusive); default: no bound.",
    ),
]


def order_parameters(
    date_from: FromParameter = None,
    date_to: ToParameter = None,
    group_by: Annotated[
        OrderGrouping, Query(description="What a row stands for; `account` with `all`.")
    ] = OrderGrouping.MONTH,
    status: Annotated[
        list[OrderStatus] | None,
        Query(description="Repeatable. Default: all but cancelled and rejected."),
    ] = None,
    account: AccountParameter = "me",
) -> OrdersReportRequest:
    return OrdersReportRequest(
        period=Period.of(date_from, date_to),
        group_by=group_by,
        statuses=frozenset(status or ()),
        account=account,
    )


def claim_parameters(
    date_from: FromParameter = None,
    date_to: ToParameter = None,
    account: AccountParameter = "me",
) -> ClaimsReportRequest:
    return ClaimsReportRequest(period=Period.of(date_from, date_to), account=account)


def _now() -> datetime:
    return datetime.now(UTC)


OrderParameters = Annotated[OrdersReportRequest, Depends(order_parameters)]
ClaimParameters = Annotated[ClaimsReportRequest, Depends(claim_parameters)]


@router.get(
    "/orders",
    summary="Order figures by month, status, currency or account",
    description=ORDERS_HELP,
    responses=problem_responses(401, 403, 404, 422),
)
async def orders_report(
    principal: ReportsReader, session: DbSession, parameters: OrderParameters
) -> OrdersReportRead:
    return await service.orders_report(session, principal, parameters)


@router.get(
    "/orders/export",
    summary="Order figures as CSV or XLSX",
    description=ORDERS_HELP,
    response_class=Response,
    responses=FILE_RESPONSES,
)
async def export_orders_report(
    principal: ReportsReader,
    session: DbSession,
    parameters: OrderParameters,
    format: FormatParameter = "csv",
) -> Response:
    report = await service.orders_report(session, principal, parameters)
    return await orders_report_export(report, format)


@router.get(
    "/claims",
    summary="Claim counts, answer and resolution times, SLA breaches",
    description=CLAIMS_HELP,
    responses=problem_responses(401, 403, 404, 422),
)
async def claims_report(
    principal: ReportsReader, session: DbSession, parameters: ClaimParameters
) -> ClaimsReportRead:
    return await service.claims_report(session, principal, parameters, _now())


@router.get(
    "/claims/export",
    summary="Claim figures as CSV or XLSX",
    description=CLAIMS_HELP,
    response_class=Response,
    responses=FILE_RESPONSES,
)
async def export_claims_report(
    principal: ReportsReader,
    session: DbSession,
    parameters: ClaimParameters,
    format: FormatParameter = "csv",
) -> Response:
    report = await service.claims_report(session, principal, parameters, _now())
    return await claims_report_export(report, format)
