"""Building the reports: scope, query, figures, in that order.

Both reports read one request's session and write nothing. The caller's
account and what its key may see decide the scope (:mod:`.scope`) before
any figure is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from domain.orders.status import OrderStatus
from gateway.accounts.service import Principal
from gateway.reports.claims import tally_claims
from gateway.reports.repository import (
    ClaimQuery,
    OrderGrouping,
    OrderQuery,
    Period,
    ReportRepository,
    counted_statuses,
)
from gateway.reports.schemas import (
    ClaimsReportRead,
    OrdersReportRead,
    claims_report_read,
    orders_report_read,
)
from gateway.reports.scope import resolve_scope


@dataclass(frozen=True, slots=True)
class OrdersReportRequest:
    """``statuses`` empty: the default set (:func:`counted_statuses`);
    ``account``: ``me``, ``all`` or an account id, as the caller sent it."""

    period: Period
    group_by: OrderGrouping
    statuses: frozenset[OrderStatus]
    account: str


@dataclass(frozen=True, slots=True)
class ClaimsReportRequest:
    period: Period
    account: str


async def orders_report(
    session: AsyncSession, principal: Principal, request: OrdersReportRequest
) -> OrdersReportRead:
    scope = await resolve_scope(session, principal, request.account, "orders")
    counted = counted_statuses(request.statuses)
    figures = await ReportRepository(session).order_figures(
        OrderQuery(
            account_id=scope.account_id,
            period=request.period,
            statuses=counted,
            group_by=request.group_by,
        )
    )
    return orders_report_read(
        period=request.period,
        group_by=request.group_by,
        account=scope.label,
        statuses=counted,
        figures=figures,
    )


async def claims_report(
    session: AsyncSession,
    principal: Principal,
    request: ClaimsReportRequest,
    now: datetime,
) -> ClaimsReportRead:
    """Claims filed in the period; deadlines still open are judged at ``now``."""
    scope = await resolve_scope(session, principal, request.account, "claims")
    facts = ReportRepository(session).claim_facts(
        ClaimQuery(account_id=scope.account_id, period=request.period)
    )
    figures = await tally_claims(facts, now)
    return claims_report_read(
        period=request.period,
        account=scope.label,
        as_of=now.astimezone(principal.account.zone),
        figures=figures,
    )
