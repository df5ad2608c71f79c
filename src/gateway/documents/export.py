"""Documents and statements as CSV or XLSX files.

A document export walks the index page by page: CSV streams as it goes, and
XLSX (a zip archive, complete only at the end) is written in xlsxwriter's
constant-memory mode to a temporary file and streamed from disk. A statement
is one bounded period, built whole, and written the same two ways.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any, Final, Literal

import xlsxwriter
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.accounts.model import Account
from domain.documents.model import Document
from domain.money import format_amount
from gateway.documents.disposition import content_disposition
from gateway.documents.repository import (
    DocumentFilter,
    DocumentRepository,
    DocumentSort,
)
from gateway.documents.schemas import StatementRead

EXPORT_PAGE: Final = 500
XLSX_MEDIA_TYPE: Final = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
)
DOCUMENT_COLUMNS: Final = (
    "document_id",
    "type",
    "number",
    "status",
    "issue_date",
    "due_date",
    "amount",
    "currency",
    "order_id",
    "source_system",
    "external_ref",
)
STATEMENT_COLUMNS: Final = (
    "date",
    "kind",
    "reference",
    "description",
    "debit",
    "credit",
    "balance",
    "currency",
    "document_id",
)

FileFormat = Literal["csv", "xlsx"]


async def document_export(
    sessions: async_sessionmaker[AsyncSession],
    account: Account,
    filters: DocumentFilter,
    sort: DocumentSort,
    file_format: FileFormat,
) -> Response:
    rows = _document_rows(sessions, account, filters, sort)
    return await _file(rows, DOCUMENT_COLUMNS, f"documents.{file_format}", file_format)


async def statement_export(
    statement: StatementRead, file_format: FileFormat
) -> Response:
    async def rows() -> AsyncIterator[list[list[Any]]]:
        yield _statement_rows(statement)

    name = f"statement-{statement.date_from}-{statement.date_to}.{file_format}"
    return await _file(rows(), STATEMENT_COLUMNS, name, file_format)


async def _document_rows(
    sessions: async_sessionmaker[AsyncSession],
    account: Account,
    filters: DocumentFilter,
    sort: DocumentSort,
) -> AsyncIterator[list[list[Any]]]:
    after = None
    while True:
        async with sessions() as session:
            documents, position = await DocumentRepository(session).page(
                account.id, filters, sort, after, EXPORT_PAGE
            )
        if documents:
            yield [_document_row(document) for document in documents]
        if position is None:
            return
        after = sort.parse(position)


def _document_row(document: Document) -> list[Any]:
    amount = document.amount
    return [
        str(document.id),
        document.type.value,
        document.number or "",
        document.status.value,
        "" if document.issue_date is None else document.issue_date.isoformat(),
        "" if document.due_date is None else document.due_date.isoformat(),
        "" if amount is None else format_amount(amount.amount, amount.currency),
        "" if amount is None else amount.currency,
        "" if document.order_id is None else str(document.order_id),
        document.source_system,
        document.external_ref,
    ]


def _statement_rows(statement: StatementRead) -> list[list[Any]]:
    currency = statement.currency

    def money(amount: Any) -> str:
        return format_amount(amount, currency)

    rows: list[list[Any]] = [
        [
            statement.date_from.isoformat(),
            "opening_balance",
            "",
            "",
            "",
            "",
            money(statement.opening_balance.amount),
            currency,
            "",
        ]
    ]
    for line in statement.lines:
        rows.append(
            [
                line.date.isoformat(),
                line.kind.value,
                line.reference,
                line.description,
                money(line.debit.amount),
                money(line.credit.amount),
                money(line.balance.amount),
                currency,
                "" if line.document_id is None else str(line.document_id),
            ]
        )
    rows.append(
        [
            statement.date_to.isoformat(),
            "closing_balance",
            "",
            "",
            "",
            "",
            money(statement.closing_balance.amount),
            currency,
            "",
        ]
    )
    return rows


async def _file(
    batches: AsyncIterator[list[list[Any]]],
    columns: Sequence[str],
    filename: str,
    file_format: FileFormat,
) -> Response:
    headers = {"Content-Disposition": content_disposition(filename)}
    if file_format == "csv":
        return StreamingResponse(
            _csv(batches, columns),
            media_type="text/csv; charset=utf-8",
            headers=headers,
        )
    return StreamingResponse(
        await _xlsx(batches, columns), media_type=XLSX_MEDIA_TYPE, headers=headers
    )


async def _csv(
    batches: AsyncIterator[list[list[Any]]], columns: Sequence[str]
) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    yield buffer.getvalue().encode()
    async for rows in batches:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(rows)
        yield buffer.getvalue().encode()


async def _xlsx(
    batches: AsyncIterator[list[list[Any]]], columns: Iterable[str]
) -> AsyncIterator[bytes]:
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the generator below
    workbook = xlsxwriter.Workbook(spool, {"constant_memory": True, "in_memory": False})
    sheet = workbook.add_worksheet("documents")
    sheet.write_row(0, 0, list(columns))
    row_number = 1
    async for rows in batches:
        for row in rows:
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
