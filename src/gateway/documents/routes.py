"""Document endpoints: the index, downloads, exports and the statement."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.background import BackgroundTask

from domain.accounts.scopes import Scope
from domain.documents.model import Document, DocumentStatus, DocumentType
from domain.errors import InvalidInputError, NotFoundError
from gateway.accounts.service import Principal
from gateway.api.cursors import CursorCodec
from gateway.api.dependencies import DbSession, get_sessions, require
from gateway.api.errors import ApiError
from gateway.api.problems import SERVICE_UNAVAILABLE, problem_responses
from gateway.api.routing import PorticoRoute
from gateway.api.types import Amount, FilterDate
from gateway.documents.disposition import content_disposition
from gateway.documents.export import XLSX_MEDIA_TYPE, document_export, statement_export
from gateway.documents.repository import (
    DocumentFilter,
    DocumentRepository,
    DocumentSort,
)
from gateway.documents.schemas import (
    DocumentPage,
    DocumentRead,
    StatementRead,
    document_read,
    statement_read,
)
from gateway.documents.service import DocumentService

router = APIRouter(prefix="/v1/documents", route_class=PorticoRoute, tags=["documents"])

DocumentsReader = Annotated[Principal, Depends(require(Scope.DOCUMENTS_READ))]
Sessions = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)]
SortName = Literal[
    "issue_date",
    "-issue_date",
    "due_date",
    "-due_date",
    "amount",
    "-amount",
    "number",
    "-number",
]
PAGE_LIMIT = 100

TypeFilter = Annotated[list[DocumentType] | None, Query(description="Repeatable.")]
StatusFilter = Annotated[list[DocumentStatus] | None, Query(description="Repeatable.")]
IssuedFrom = Annotated[
    FilterDate | None,
    Query(description="First issue day (inclusive), a calendar date of the books."),
]
IssuedTo = Annotated[
    FilterDate | None, Query(description="Last issue day (inclusive).")
]
OrderFilter = Annotated[
    uuid.UUID | None, Query(description="Only documents of this order.")
]
NumberText = Annotated[
    str | None, Query(max_length=100, description="Text in the document number.")
]
AmountMin = Annotated[Amount | None, Query(description='Decimal string, "10.50".')]
AmountMax = Annotated[Amount | None, Query(description='Decimal string, "10.50".')]


def get_documents(request: Request) -> DocumentService:
    documents: DocumentService | None = getattr(request.app.state, "documents", None)
    if documents is None:
        raise ApiError(
            SERVICE_UNAVAILABLE,
            "no ERP connector with documents is configured for this deployment",
        )
    return documents


def get_cursors(request: Request) -> CursorCodec:
    cursors: CursorCodec = request.app.state.cursors
    return cursors


Documents = Annotated[DocumentService, Depends(get_documents)]
Cursors = Annotated[CursorCodec, Depends(get_cursors)]


def document_filter(
    types: list[DocumentType] | None,
    statuses: list[DocumentStatus] | None,
    issued_from: date | None,
    issued_to: date | None,
    order_id: uuid.UUID | None,
    number: str | None,
    amount_min: Amount | None,
    amount_max: Amount | None,
) -> DocumentFilter:
    if issued_from and issued_to and issued_to < issued_from:
        raise InvalidInputError("issued_to is before issued_from", field="issued_to")
    if amount_min is not None and amount_max is not None and amount_max < amount_min:
        raise InvalidInputError("amount_max is below amount_min", field="amount_max")
    return DocumentFilter(
        types=frozenset(types or ()),
        statuses=frozenset(statuses or ()),
        issued_from=issued_from,
        issued_to=issued_to,
        order_id=order_id,
        number_text=number or None,
        amount_min=amount_min,
        amount_max=amount_max,
    )


def _sort(sort: str) -> DocumentSort:
    return DocumentSort(field=sort.lstrip("-"), descending=sort.startswith("-"))


@router.get(
    "",
    summary="The account's documents",
    responses=problem_responses(401, 403, 422),
)
async def list_documents(
    principal: DocumentsReader,
    session: DbSession,
    cursors: Cursors,
    type: TypeFilter = None,
    status: StatusFilter = None,
    issued_from: IssuedFrom = None,
    issued_to: IssuedTo = None,
    order_id: OrderFilter = None,
    number: NumberText = None,
    amount_min: AmountMin = None,
    amount_max: AmountMax = None,
    sort: SortName = "-issue_date",
    limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT)] = 20,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> DocumentPage:
    sort_key = _sort(sort)
    listing = f"documents:{sort}"
    account_id = principal.account.id
    after = None
    if cursor is not None:
        position = cursors.decode(cursor, listing, account_id)
        try:
            after = sort_key.parse(position)
        except (ValueError, TypeError, ArithmeticError):
            raise InvalidInputError(
                "the cursor is not valid for this listing", field="cursor"
            ) from None
    filters = document_filter(
        type, status, issued_from, issued_to, order_id, number, amount_min, amount_max
    )
    documents, next_position = await DocumentRepository(session).page(
        account_id, filters, sort_key, after, limit
    )
    return DocumentPage(
        items=[document_read(document) for document in documents],
        next_cursor=None
        if next_position is None
        else cursors.encode(listing, account_id, next_position),
    )


@router.get(
    "/export",
    summary="Export documents as CSV or XLSX",
    response_class=Response,
    responses={
        200: {
            "content": {"text/csv": {}, XLSX_MEDIA_TYPE: {}},
            "description": "The matching documents, one line each.",
        },
        **problem_responses(401, 403, 422),
    },
)
async def export_documents(
    principal: DocumentsReader,
    sessions: Sessions,
    format: Annotated[Literal["csv", "xlsx"], Query()] = "csv",
    type: TypeFilter = None,
    status: StatusFilter = None,
    issued_from: IssuedFrom = None,
    issued_to: IssuedTo = None,
    order_id: OrderFilter = None,
    number: NumberText = None,
    amount_min: AmountMin = None,
    amount_max: AmountMax = None,
    sort: SortName = "-issue_date",
) -> Response:
    filters = document_filter(
        type, status, issued_from, issued_to, order_id, number, amount_min, amount_max
    )
    return await document_export(
        sessions, principal.account, filters, _sort(sort), format
    )


@router.get(
    "/reconciliation",
    summary="Reconciliation statement: opening balance, postings, closing balance",
    response_model=StatementRead,
    responses={
        200: {
            "content": {"text/csv": {}, XLSX_MEDIA_TYPE: {}},
            "description": "The statement, as JSON or (format=csv|xlsx) a file.",
        },
        **problem_responses(401, 403, 409, 422, 502, 503, 504),
    },
)
async def reconciliation_statement(
    principal: DocumentsReader,
    documents: Documents,
    sessions: Sessions,
    date_from: Annotated[
        FilterDate | None,
        Query(alias="from", description="First day; default: 1 January of `to`."),
    ] = None,
    date_to: Annotated[
        FilterDate | None,
        Query(
            alias="to", description="Last day; default: today in the account's zone."
        ),
    ] = None,
    format: Annotated[Literal["json", "csv", "xlsx"], Query()] = "json",
) -> Response:
    account = principal.account
    end = date_to or datetime.now(account.zone).date()
    start = date_from or end.replace(month=1, day=1)
    statement, document_ids = await documents.statement(sessions, account, start, end)
    body = statement_read(account.id, statement, document_ids)
    if format == "json":
        return Response(
            body.model_dump_json(by_alias=True), media_type="application/json"
        )
    return await statement_export(body, format)


@router.get(
    "/{document_id}",
    summary="One document",
    responses=problem_responses(401, 403, 404, 422),
)
async def read_document(
    principal: DocumentsReader, session: DbSession, document_id: uuid.UUID
) -> DocumentRead:
    return document_read(await _owned(session, principal, document_id))


@router.get(
    "/{document_id}/content",
    summary="Download the document, rendered by its source system",
    response_class=Response,
    responses={
        200: {
            "content": {"application/octet-stream": {}},
            "description": "The file, streamed; its type is the source's.",
            "headers": {
                "ETag": {
                    "description": "Changes when the document does.",
                    "schema": {"type": "string"},
                },
                "Content-Disposition": {
                    "description": "attachment; filename=...; filename*=UTF-8''...",
                    "schema": {"type": "string"},
                },
            },
        },
        304: {"description": "The document has not changed (If-None-Match)."},
        **problem_responses(401, 403, 404, 422, 502, 503, 504),
    },
)
async def document_content(
    principal: DocumentsReader,
    session: DbSession,
    documents: Documents,
    document_id: uuid.UUID,
    if_none_match: Annotated[str | None, Header(max_length=1024)] = None,
) -> Response:
    document = await _owned(session, principal, document_id)
    await session.close()  # no database connection waits on the ERP's rendering
    etag = _etag(document)
    if if_none_match is not None and etag in _etags(if_none_match):
        return Response(status_code=304, headers={"ETag": etag})
    content = await documents.open_content(document)
    headers = {
        "ETag": etag,
        "Content-Disposition": content_disposition(content.filename),
        "Cache-Control": "private, no-cache",
    }
    if content.size is not None:
        headers["Content-Length"] = str(content.size)
    return StreamingResponse(
        content.chunks,
        media_type=content.media_type,
        headers=headers,
        background=BackgroundTask(content.aclose),
    )


async def _owned(
    session: AsyncSession, principal: Principal, document_id: uuid.UUID
) -> Document:
    document = await DocumentRepository(session).get(principal.account.id, document_id)
    if document is None:
        raise NotFoundError("document", document_id)
    return document


def _etag(document: Document) -> str:
    version = int(document.source_changed_at.timestamp() * 1_000_000)
    return f'W/"{document.id.hex}-{version}"'


def _etags(header: str) -> set[str]:
    tags = {tag.strip() for tag in header.split(",")}
    # Weak comparison (RFC 9110): W/"x" matches "x" and W/"x".
    return tags | {f"W/{tag}" for tag in tags if not tag.startswith("W/")}
