"""The queries behind the reports. Reads only; never flushes or commits.

Order figures are summed by PostgreSQL in exact NUMERIC: no float and no
rounding touches a line, so a sum over a million lines is the sum the ERP's
own books give. Rounding to the currency's minor unit happens once, on the
final sums, in :mod:`gateway.reports.schemas`.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    Text,
    cast,
    func,
    literal_column,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from domain.claims.model import ClaimType, SlaClock
from domain.claims.status import ClaimStatus
from domain.errors import InvalidInputError
from domain.orders.status import OrderStatus
from gateway.db.tables import AccountRow, ClaimRow, OrderLineRow, OrderRow


class OrderGrouping(enum.StrEnum):
    """What one row of the orders report stands for."""

    MONTH = "month"
    STATUS = "status"
    CURRENCY = "currency"
    ACCOUNT = "account"


#: Statuses an orders report leaves out unless the caller names statuses:
#: orders that will never be delivered or invoiced.
EXCLUDED_BY_DEFAULT: Final = frozenset({OrderStatus.CANCELLED, OrderStatus.REJECTED})
#: Claims streamed from the database per round trip.
CLAIM_BATCH: Final = 1000


@dataclass(frozen=True, slots=True)
class Period:
    """Days [``start``, ``end``): ``end`` is the first day not counted. A side
    left None is open: no first day, or no last one."""

    start: date | None = None
    end: date | None = None

    @classmethod
    def of(cls, start: date | None, end: date | None) -> Period:
        """Raises InvalidInputError unless ``end`` is after ``start``."""
        if start is not None and end is not None and end <= start:
            raise InvalidInputError(
                f"to ({end.isoformat()}) must be after from ({start.isoformat()}): "
                "the period is [from, to), so from=2025-01-01&to=2025-02-01 is "
                "January",
                field="to",
            )
        return cls(start, end)

    def contains(
        self, day: ColumnElement[date] | InstrumentedAttribute[date]
    ) -> list[ColumnElement[bool]]:
        """The conditions that keep ``day`` within the period."""
        conditions: list[ColumnElement[bool]] = []
        if self.start is not None:
            conditions.append(day >= self.start)
        if self.end is not None:
            conditions.append(day < self.end)
        return conditions


@dataclass(frozen=True, slots=True)
class OrderQuery:
    """Orders dated in the period, of the accounts in scope."""

    account_id: uuid.UUID | None
    period: Period
    statuses: frozenset[OrderStatus]
    group_by: OrderGrouping


@dataclass(frozen=True, slots=True)
class OrderFigures:
    """Exact sums over one group's orders in one currency; ``group`` is None
    on the currency's total over every group."""

    group: str | None
    currency: str
    orders: int
    orders_pending_pricing: int
    lines: int
    quantity: int
    gross: Decimal
    net: Decimal
    discount: Decimal
    tax: Decimal
    total: Decimal


@dataclass(frozen=True, slots=True)
class ClaimQuery:
    """Claims filed on the period's days, of the accounts in scope, each day
    taken in the filing account's own time zone."""

    account_id: uuid.UUID | None
    period: Period


@dataclass(frozen=True, slots=True)
class ClaimFacts:
    """What the claims report needs of one claim."""

    type: ClaimType
    status: ClaimStatus
    created_at: datetime
    sla: SlaClock


def counted_statuses(named: frozenset[OrderStatus]) -> frozenset[OrderStatus]:
    """The statuses a report counts: those named, else all but the excluded."""
    return named or frozenset(OrderStatus) - EXCLUDED_BY_DEFAULT


def _group_key(group_by: OrderGrouping) -> Any:
    if group_by is OrderGrouping.MONTH:
        return func.to_char(OrderRow.order_date, "YYYY-MM")
    if group_by is OrderGrouping.STATUS:
        return OrderRow.status
    if group_by is OrderGrouping.CURRENCY:
        return OrderRow.currency
    return cast(OrderRow.account_id, Text)


def _per_order(query: OrderQuery) -> Select[Any]:
    """One row per order: its group, whether every line is priced, and its
    exact sums (unused for an unpriced order)."""
    quantity = OrderLineRow.quantity
    payable = func.coalesce(OrderLineRow.net_unit_price, OrderLineRow.unit_price)
    statuses = sorted(status.value for status in counted_statuses(query.statuses))
    statement = (
        select(
            _group_key(query.group_by).label("group_key"),
            OrderRow.currency.label("currency"),
            func.bool_and(OrderLineRow.unit_price.is_not(None)).label("priced"),
            func.count().label("lines"),
            func.sum(quantity).label("quantity"),
            func.sum(quantity * OrderLineRow.unit_price).label("gross"),
            func.sum(quantity * payable).label("net"),
            func.sum(quantity * payable * OrderLineRow.tax_rate).label("tax"),
        )
        .join(OrderLineRow, OrderLineRow.order_id == OrderRow.id)
        .where(
            OrderRow.status.in_(statuses),
            *query.period.contains(OrderRow.order_date),
        )
        # Grouping by the primary key lets the select name the order's columns.
        .group_by(OrderRow.id)
    )
    if query.account_id is not None:
        statement = statement.where(OrderRow.account_id == query.account_id)
    return statement


class ReportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def order_figures(self, query: OrderQuery) -> list[OrderFigures]:
        """Figures per (group, currency), sorted by group then currency, then
        one total per currency (``group`` None), sorted by currency."""
        order = _per_order(query).cte("per_order")
        priced = order.c.priced
        zero: ColumnElement[Decimal] = literal_column("0")

        def priced_sum(column: Any) -> Any:
            return func.coalesce(func.sum(column).filter(priced), zero)

        gross = priced_sum(order.c.gross)
        net = priced_sum(order.c.net)
        tax = priced_sum(order.c.tax)
        is_total = func.grouping(order.c.group_key)
        statement = (
            select(
                is_total.label("is_total"),
                order.c.group_key,
                order.c.currency,
                func.count().label("orders"),
                func.count().filter(~priced).label("orders_pending_pricing"),
                priced_sum(order.c.lines).label("lines"),
                priced_sum(order.c.quantity).label("quantity"),
                gross.label("gross"),
                net.label("net"),
                (gross - net).label("discount"),
                tax.label("tax"),
                (net + tax).label("total"),
            )
            .group_by(
                func.grouping_sets(
                    tuple_(order.c.group_key, order.c.currency),
                    tuple_(order.c.currency),
                )
            )
            .order_by(
                is_total,
                order.c.group_key.collate("C"),
                order.c.currency.collate("C"),
            )
        )
        rows = await self._session.execute(statement)
        return [
            OrderFigures(
                group=None if row.is_total else row.group_key,
                currency=row.currency,
                orders=int(row.orders),
                orders_pending_pricing=int(row.orders_pending_pricing),
                lines=int(row.lines),
                quantity=int(row.quantity),
                gross=Decimal(row.gross),
                net=Decimal(row.net),
                discount=Decimal(row.discount),
                tax=Decimal(row.tax),
                total=Decimal(row.total),
            )
            for row in rows
        ]

    async def claim_facts(self, query: ClaimQuery) -> AsyncIterator[ClaimFacts]:
        """The claims in scope, streamed in batches so that memory stays flat
        however many there are."""
        local_day = cast(func.timezone(AccountRow.timezone, ClaimRow.created_at), Date)
        statement = (
            select(
                ClaimRow.type,
                ClaimRow.status,
                ClaimRow.created_at,
                ClaimRow.first_answer_due_at,
                ClaimRow.resolution_due_at,
                ClaimRow.first_answered_at,
                ClaimRow.settled_at,
            )
            .join(AccountRow, AccountRow.id == ClaimRow.account_id)
            .where(*query.period.contains(local_day))
            .execution_options(yield_per=CLAIM_BATCH)
        )
        if query.account_id is not None:
            statement = statement.where(ClaimRow.account_id == query.account_id)
        result = await self._session.stream(statement)
        async for row in result:
            yield ClaimFacts(
                type=ClaimType(row.type),
                status=ClaimStatus(row.status),
                created_at=row.created_at,
                sla=SlaClock(
                    first_answer_due_at=row.first_answer_due_at,
                    resolution_due_at=row.resolution_due_at,
                    first_answered_at=row.first_answered_at,
                    settled_at=row.settled_at,
                ),
            )
