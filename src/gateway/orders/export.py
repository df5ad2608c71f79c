"""Exporting orders as CSV or XLSX, one row per order line.

CSV streams page by page as the keyset query walks the orders, so an export
of any size holds one page in memory. XLSX is a zip archive that cannot be
sent before it is complete: it is written to a temporary file in xlsxwriter's
constant-memory mode and then streamed from disk.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import AsyncIterator
from typing import Any, Literal

import xlsxwriter
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.accounts.model import Account
from domain.money import format_amount
from domain.orders.model import Order
from gateway.orders.repository import OrderFilter, OrderRepository, SortKey

EXPORT_PAGE = 500
COLUMNS = (
    "order_id",
    "created_at",
    "status",
    "customer_reference",
    "erp_number",
    "line_no",
    "sku",
    "quantity",
    "unit_price",
    "line_total",
    "order_total",
    "currency",
)
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def _orders(
    sessions: async_sessionmaker[AsyncSession],
    account: Account,
    filters: OrderFilter,
    sort: SortKey,
) -> AsyncIterator[list[Order]]:
    after = None
    while True:
        async with sessions() as session:
            orders, position = await OrderRepository(session).page(
                account.id, filters, sort, after, EXPORT_PAGE
            )
        if orders:
            yield orders
        if position is None:
            return
        after = sort.parse(position)


def _rows(order: Order, account: Account) -> list[list[Any]]:
    created = order.created_at.astimezone(account.zone).isoformat()
    total = order.total
    return [
        [
            str(order.id),
            created,
            order.status.value,
            order.customer_reference or "",
            order.erp_number or "",
            line.line_no,
            line.sku,
            line.quantity,
            ""
            if line.unit_price is None
            else format_amount(line.unit_price.amount, order.currency),
            ""
            if line.total is None
            else format_amount(line.total.amount, order.currency),
            "" if total is None else format_amount(total.amount, order.currency),
            order.currency,
        ]
        for line in order.lines
    ]


async def export_response(
    sessions: async_sessionmaker[AsyncSession],
    account: Account,
    filters: OrderFilter,
    sort: SortKey,
    file_format: Literal["csv", "xlsx"],
) -> Response:
    if file_format == "csv":
        return StreamingResponse(
            _csv(sessions, account, filters, sort),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="orders.csv"'},
        )
    return StreamingResponse(
        await _xlsx(sessions, account, filters, sort),
        media_type=XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": 'attachment; filename="orders.xlsx"'},
    )


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_safe(value: Any) -> Any:
    """Keep text a spreadsheet would run as a formula from running (CSV
    injection): such cells get a leading apostrophe, as spreadsheets expect."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


async def _csv(
    sessions: async_sessionmaker[AsyncSession],
    account: Account,
    filters: OrderFilter,
    sort: SortKey,
) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    yield buffer.getvalue().encode()
    async for orders in _orders(sessions, account, filters, sort):
        buffer.seek(0)
        buffer.truncate()
        for order in orders:
            writer.writerows(
                [_csv_safe(cell) for cell in row] for row in _rows(order, account)
            )
        yield buffer.getvalue().encode()


async def _xlsx(
    sessions: async_sessionmaker[AsyncSession],
    account: Account,
    filters: OrderFilter,
    sort: SortKey,
) -> AsyncIterator[bytes]:
    """Write the workbook to a temporary file; return its bytes as a stream."""
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the generator below
    workbook = xlsxwriter.Workbook(
        spool,
        {
            "constant_memory": True,
            "in_memory": False,
            # A dealer's reference such as "=HYPERLINK(...)" stays text.
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    sheet = workbook.add_worksheet("orders")
    sheet.write_row(0, 0, COLUMNS)
    row_number = 1
    async for orders in _orders(sessions, account, filters, sort):
        for order in orders:
            for row in _rows(order, account):
                sheet.write_row(row_number, 0, row)
                row_number += 1
    workbook.close()
    spool.seek(0)

    async def chunks() -> AsyncIterator[bytes]:
        try:
            while chunk := spool.read(64 * 1024):
                yield chunk
        finally:
            spool.close()

    return chunks()
