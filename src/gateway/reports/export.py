"""Reports as CSV or XLSX files.

A report is a bounded summary, built whole, so the file is written from the
same model the JSON answer carries and the two never disagree. The writing
itself (streamed CSV, XLSX spooled to disk, the Content-Disposition header)
is the documents export's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Final

from fastapi.responses import Response

from domain.money import format_amount
from gateway.api.types import MoneyModel
from gateway.documents.export import FileFormat
from gateway.documents.export import _file as tabular_file
from gateway.reports.schemas import (
    ClaimFiguresRead,
    ClaimsReportRead,
    ClockRead,
    OrdersReportRead,
    OrderTotalsRead,
    ReportHeader,
)

ORDER_COLUMNS: Final = (
    "group",
    "currency",
    "orders",
    "orders_pending_pricing",
    "lines",
    "quantity",
    "gross",
    "net",
    "discount",
    "tax",
    "total",
)
#: The label of the per-currency total rows that follow the groups.
TOTAL_ROW: Final = "total"
CLAIM_COLUMNS: Final = (
    "level",
    "type",
    "status",
    "claims",
    "first_answer_measured",
    "first_answer_mean_seconds",
    "first_answer_breached",
    "resolution_measured",
    "resolution_mean_seconds",
    "resolution_breached",
)


async def orders_report_export(
    report: OrdersReportRead, file_format: FileFormat
) -> Response:
    rows = [_order_row(group.group, group) for group in report.groups]
    rows += [_order_row(TOTAL_ROW, totals) for totals in report.totals]
    name = _filename("orders-report", report, file_format)
    return await tabular_file(_once(rows), ORDER_COLUMNS, name, file_format)


async def claims_report_export(
    report: ClaimsReportRead, file_format: FileFormat
) -> Response:
    rows = [
        _claim_row("type_status", cell.type.value, cell.status.value, cell)
        for cell in report.by_type_and_status
    ]
    rows += [_claim_row("type", item.type.value, "", item) for item in report.by_type]
    rows += [
        _claim_row("status", "", item.status.value, item) for item in report.by_status
    ]
    rows.append(_claim_row(TOTAL_ROW, "", "", report.totals))
    name = _filename("claims-report", report, file_format)
    return await tabular_file(_once(rows), CLAIM_COLUMNS, name, file_format)


def _filename(stem: str, report: ReportHeader, file_format: FileFormat) -> str:
    """``orders-report-from-2025-01-01-to-2025-02-01.csv``; an open side is
    left out of the name."""
    parts = [stem]
    if report.date_from is not None:
        parts.append(f"from-{report.date_from.isoformat()}")
    if report.date_to is not None:
        parts.append(f"to-{report.date_to.isoformat()}")
    return f"{'-'.join(parts)}.{file_format}"


async def _once(rows: list[list[Any]]) -> AsyncIterator[list[list[Any]]]:
    yield rows


def _amount(money: MoneyModel) -> str:
    return format_amount(money.amount, money.currency)


def _order_row(label: str, figures: OrderTotalsRead) -> list[Any]:
    return [
        label,
        figures.currency,
        figures.orders,
        figures.orders_pending_pricing,
        figures.lines,
        figures.quantity,
        _amount(figures.gross),
        _amount(figures.net),
        _amount(figures.discount),
        _amount(figures.tax),
        _amount(figures.total),
    ]


def _clock_cells(clock: ClockRead) -> list[Any]:
    mean = "" if clock.mean_seconds is None else clock.mean_seconds
    return [clock.measured, mean, clock.breached]


def _claim_row(
    level: str, claim_type: str, status: str, figures: ClaimFiguresRead
) -> list[Any]:
    return [
        level,
        claim_type,
        status,
        figures.claims,
        *_clock_cells(figures.first_answer),
        *_clock_cells(figures.resolution),
    ]
