"""The reports API's shapes, and the one place report sums are rounded.

Each money figure is rounded once, from its exact sum, to the currency's
minor unit, half up (0.005 EUR becomes 0.01). ``discount`` and ``total`` are
rounded from their own exact values too, so a displayed total may differ by
one minor unit from the displayed net plus the displayed tax; that is what
"rounded only at the end" means, and what a ledger summing the same lines
shows.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any, Final

from pydantic import BaseModel, Field

from domain.claims.model import ClaimType
from domain.claims.status import ClaimStatus
from domain.money import Money, minor_units
from domain.orders.status import OrderStatus
from gateway.api.types import CurrencyCode, MoneyModel
from gateway.reports.claims import ClaimFigures, ClaimTally, ClockTally
from gateway.reports.repository import OrderFigures, OrderGrouping, Period

#: Wide enough that rounding a sum of NUMERIC(20, 4) products never loses
#: an integer digit (the default context keeps 28 significant digits).
_ROUNDING: Final = Context(prec=100, rounding=ROUND_HALF_UP)


def rounded(amount: Decimal, currency: str) -> Money:
    """``amount`` rounded half up to ``currency``'s minor unit (JPY 0, EUR 2)."""
    quantum = Decimal(1).scaleb(-minor_units(currency))
    result = amount.quantize(quantum, context=_ROUNDING)
    # -0.004 rounds to -0.00; a report shows 0.00.
    return Money(result.copy_abs() if result.is_zero() else result, currency)


class OrderTotalsRead(BaseModel):
    """Figures over a set of orders in one currency."""

    currency: CurrencyCode
    orders: int = Field(description="Orders counted, priced or not.")
    orders_pending_pricing: int = Field(
        description="Of those, orders the ERP has not priced yet: their lines "
        "are in none of the sums below."
    )
    lines: int = Field(description="Order lines of the priced orders.")
    quantity: int = Field(description="Pieces on those lines.")
    gross: MoneyModel = Field(description="Quantity times the ERP's list price.")
    net: MoneyModel = Field(
        description="Quantity times the confirmed net price, or the list price "
        "where the ERP confirmed none."
    )
    discount: MoneyModel = Field(description="Gross minus net.")
    tax: MoneyModel = Field(description="Net times each line's tax rate.")
    total: MoneyModel = Field(description="Net plus tax.")


class OrderGroupRead(OrderTotalsRead):
    group: str = Field(
        description="The month (`1995-03`), the status, the currency code or "
        "the account id, as `group_by` asks.",
        examples=["1995-03"],
    )


class ReportHeader(BaseModel):
    """What every report says about itself: the period and whose data."""

    date_from: date | None = Field(
        serialization_alias="from", description="The first day; null: no bound."
    )
    date_to: date | None = Field(
        serialization_alias="to", description="The first day after; null: no bound."
    )
    account: str = Field(description="The account id reported on, or `all`.")


class OrdersReportRead(ReportHeader):
    group_by: OrderGrouping
    statuses: list[OrderStatus] = Field(description="The statuses counted.")
    groups: list[OrderGroupRead] = Field(
        description="One per group and currency, sorted by group, then currency."
    )
    totals: list[OrderTotalsRead] = Field(
        description="One per currency, over every group; sorted by currency."
    )


def order_totals_read(figures: OrderFigures) -> OrderTotalsRead:
    currency = figures.currency
    return OrderTotalsRead(
        currency=currency,
        orders=figures.orders,
        orders_pending_pricing=figures.orders_pending_pricing,
        lines=figures.lines,
        quantity=figures.quantity,
        gross=MoneyModel.of(rounded(figures.gross, currency)),
        net=MoneyModel.of(rounded(figures.net, currency)),
        discount=MoneyModel.of(rounded(figures.discount, currency)),
        tax=MoneyModel.of(rounded(figures.tax, currency)),
        total=MoneyModel.of(rounded(figures.total, currency)),
    )


def orders_report_read(
    *,
    period: Period,
    group_by: OrderGrouping,
    account: str,
    statuses: frozenset[OrderStatus],
    figures: list[OrderFigures],
) -> OrdersReportRead:
    return OrdersReportRead(
        date_from=period.start,
        date_to=period.end,
        group_by=group_by,
        account=account,
        statuses=[status for status in OrderStatus if status in statuses],
        groups=[
            OrderGroupRead(group=row.group, **dict(order_totals_read(row)))
            for row in figures
            if row.group is not None
        ],
        totals=[order_totals_read(row) for row in figures if row.group is None],
    )


class ClockRead(BaseModel):
    """One SLA clock over a set of claims."""

    mean_seconds: float | None = Field(
        description="Mean time from filing, in seconds; null when no claim "
        "was measured."
    )
    measured: int = Field(description="The claims the mean is over.")
    breached: int = Field(
        description="Claims past this deadline: met late, or still open after it."
    )


class ClaimFiguresRead(BaseModel):
    claims: int
    first_answer: ClockRead = Field(
        description="The mean is over claims the supplier has answered."
    )
    resolution: ClockRead = Field(
        description="The mean is over claims the supplier has settled; "
        "withdrawn ones are not in it."
    )


class ClaimTypeFiguresRead(ClaimFiguresRead):
    type: ClaimType


class ClaimStatusFiguresRead(ClaimFiguresRead):
    status: ClaimStatus


class ClaimCellRead(ClaimFiguresRead):
    type: ClaimType
    status: ClaimStatus


class ClaimsReportRead(ReportHeader):
    as_of: datetime = Field(description="Open deadlines are judged at this time.")
    totals: ClaimFiguresRead
    by_type: list[ClaimTypeFiguresRead] = Field(description="Every type, zeros too.")
    by_status: list[ClaimStatusFiguresRead] = Field(
        description="Every status, zeros too."
    )
    by_type_and_status: list[ClaimCellRead] = Field(
        description="The pairs that have claims."
    )


def _clock_read(clock: ClockTally) -> ClockRead:
    return ClockRead(
        mean_seconds=clock.mean_seconds,
        measured=clock.measured,
        breached=clock.breached,
    )


def claim_figures_read(tally: ClaimTally) -> ClaimFiguresRead:
    return ClaimFiguresRead(
        claims=tally.claims,
        first_answer=_clock_read(tally.first_answer),
        resolution=_clock_read(tally.resolution),
    )


def claims_report_read(
    *,
    period: Period,
    account: str,
    as_of: datetime,
    figures: ClaimFigures,
) -> ClaimsReportRead:
    def parts(tally: ClaimTally) -> dict[str, Any]:
        return dict(claim_figures_read(tally))

    return ClaimsReportRead(
        date_from=period.start,
        date_to=period.end,
        account=account,
        as_of=as_of,
        totals=claim_figures_read(figures.total()),
        by_type=[
            ClaimTypeFiguresRead(type=claim_type, **parts(tally))
            for claim_type, tally in figures.by_type().items()
        ],
        by_status=[
            ClaimStatusFiguresRead(status=status, **parts(tally))
            for status, tally in figures.by_status().items()
        ],
        by_type_and_status=[
            ClaimCellRead(type=claim_type, status=status, **parts(tally))
            for (claim_type, status), tally in figures.cells.items()
        ],
    )
