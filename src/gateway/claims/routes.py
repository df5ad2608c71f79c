"""Claim endpoints: filing, listing, the thread, files and withdrawal."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.accounts.scopes import Scope
from domain.claims.model import ClaimType, RequestedClaimLine
from domain.claims.status import ClaimStatus
from domain.errors import DomainError, InvalidInputError, NotFoundError
from gateway.accounts.service import Principal
from gateway.api import idempotency
from gateway.api.cursors import CursorCodec
from gateway.api.dependencies import DbSession, get_sessions, require
from gateway.api.problems import problem_responses
from gateway.api.routing import PorticoRoute
from gateway.api.types import FilterDate
from gateway.claims.repository import ClaimFilter, ClaimRepository, ClaimSort
from gateway.claims.schemas import (
    AttachmentRead,
    ClaimCreate,
    ClaimPage,
    ClaimRead,
    CommentCreate,
    claim_read,
    claim_summary,
)
from gateway.claims.service import ClaimRequest, ClaimService, Upload
from gateway.claims.uploads import UploadTooLargeError, read_file
from gateway.db.engine import transaction
from gateway.documents.disposition import content_disposition

COLLECTION = "/v1/claims"
router = APIRouter(prefix=COLLECTION, route_class=PorticoRoute, tags=["claims"])

ClaimsReader = Annotated[Principal, Depends(require(Scope.CLAIMS_READ))]
ClaimsWriter = Annotated[Principal, Depends(require(Scope.CLAIMS_WRITE))]
Sessions = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Required. A retry with the same key replays the first answer.",
    ),
]
SortName = Literal[
    "created_at",
    "-created_at",
    "status",
    "-status",
    "resolution_due_at",
    "-resolution_due_at",
]
PAGE_LIMIT = 100
#: Room for the multipart framing around the file itself.
MULTIPART_OVERHEAD = 16 << 10


def get_claims(request: Request) -> ClaimService:
    claims: ClaimService = request.app.state.claims
    return claims


def get_cursors(request: Request) -> CursorCodec:
    cursors: CursorCodec = request.app.state.cursors
    return cursors


Claims = Annotated[ClaimService, Depends(get_claims)]
Cursors = Annotated[CursorCodec, Depends(get_cursors)]


def _now() -> datetime:
    return datetime.now(UTC)


@router.post(
    "",
    status_code=201,
    response_model=ClaimRead,
    summary="File a claim against lines of one of the account's orders",
    responses=problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 502, 503, 504),
)
async def file_claim(
    request: Request,
    principal: ClaimsWriter,
    claims: Claims,
    sessions: Sessions,
    create: ClaimCreate,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """At most once per Idempotency-Key, like placing an order (case C09)."""
    account = principal.account
    key = idempotency.require_key(idempotency_key)
    scope = "claims.create"
    digest = idempotency.request_digest(scope, create.model_dump(mode="json"))
    claimed = await idempotency.claim(sessions, account.id, key, scope, digest)
    if isinstance(claimed, idempotency.StoredAnswer):
        return idempotency.answer(claimed, COLLECTION)
    try:
        prepared = await claims.prepare(
            sessions,
            account,
            ClaimRequest(
                order_id=create.order_id,
                type=create.type,
                description=create.description,
                lines=[
                    RequestedClaimLine(
                        line.order_line_no, line.quantity, line.reason, line.note
                    )
                    for line in create.lines
                ],
            ),
        )
        async with transaction(sessions) as session:
            claim = await claims.create(session, account, prepared)
            created = idempotency.StoredAnswer(
                201,
                claim_read(claim, account.zone, _now()).model_dump_json().encode(),
            )
            await idempotency.remember(session, claimed, created)
        return idempotency.answer(created, COLLECTION)
    except DomainError as error:
        return await idempotency.refuse(sessions, claimed, error, request.url.path)
    except BaseException:
        await idempotency.release(sessions, claimed)
        raise


@router.get(
    "",
    summary="The account's claims",
    responses=problem_responses(401, 403, 422),
)
async def list_claims(
    principal: ClaimsReader,
    session: DbSession,
    cursors: Cursors,
    status: Annotated[
        list[ClaimStatus] | None, Query(description="Repeatable.")
    ] = None,
    type: Annotated[list[ClaimType] | None, Query(description="Repeatable.")] = None,
    order_id: Annotated[uuid.UUID | None, Query()] = None,
    created_from: Annotated[
        FilterDate | None, Query(description="First day, in the account's time zone.")
    ] = None,
    created_to: Annotated[
        FilterDate | None,
        Query(description="Last day (inclusive), account's time zone."),
    ] = None,
    breached: Annotated[
        bool | None,
        Query(description="true: past an SLA deadline; false: within both."),
    ] = None,
    sort: SortName = "-created_at",
    limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT)] = 20,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> ClaimPage:
    account = principal.account
    if created_from and created_to and created_to < created_from:
        raise InvalidInputError("created_to is before created_from", field="created_to")
    sort_key = ClaimSort(field=sort.lstrip("-"), descending=sort.startswith("-"))
    listing = f"claims:{sort}"
    after = None
    if cursor is not None:
        position = cursors.decode(cursor, listing, account.id)
        try:
            after = sort_key.parse(position)
        except (ValueError, TypeError):
            raise InvalidInputError(
                "the cursor is not valid for this listing", field="cursor"
            ) from None
    zone = account.zone
    now = _now()
    filters = ClaimFilter(
        statuses=frozenset(status or ()),
        types=frozenset(type or ()),
        order_id=order_id,
        created_from=None
        if created_from is None
        else datetime.combine(created_from, time.min, zone),
        created_before=None
        if created_to is None
        else datetime.combine(created_to + timedelta(days=1), time.min, zone),
        breached=breached,
        now=now,
    )
    claims, next_position = await ClaimRepository(session).page(
        account.id, filters, sort_key, after, limit
    )
    return ClaimPage(
        items=[claim_summary(claim, zone, now) for claim in claims],
        next_cursor=None
        if next_position is None
        else cursors.encode(listing, account.id, next_position),
    )


@router.get(
    "/{claim_id}",
    summary="One claim with its lines, timeline, thread, files and SLA",
    responses=problem_responses(401, 403, 404, 422),
)
async def read_claim(
    principal: ClaimsReader, session: DbSession, claim_id: uuid.UUID
) -> ClaimRead:
    claim = await ClaimRepository(session).get(principal.account.id, claim_id)
    if claim is None:
        raise NotFoundError("claim", claim_id)
    return claim_read(claim, principal.account.zone, _now())


@router.post(
    "/{claim_id}/comments",
    status_code=201,
    summary="Add the account's comment to the claim's thread",
    responses=problem_responses(401, 403, 404, 409, 415, 422),
)
async def comment_on_claim(
    principal: ClaimsWriter,
    claims: Claims,
    sessions: Sessions,
    claim_id: uuid.UUID,
    comment: CommentCreate,
) -> ClaimRead:
    author = comment.author or principal.key.name or "customer"
    async with transaction(sessions) as session:
        claim = await claims.comment(
            session, principal.account, claim_id, author, comment.body
        )
    return claim_read(claim, principal.account.zone, _now())


@router.post(
    "/{claim_id}/withdraw",
    summary="Withdraw the claim, in the ERP too",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def withdraw_claim(
    principal: ClaimsWriter, claims: Claims, sessions: Sessions, claim_id: uuid.UUID
) -> ClaimRead:
    async with transaction(sessions) as session:
        claim = await claims.withdraw(session, principal.account, claim_id)
    return claim_read(claim, principal.account.zone, _now())


@router.post(
    "/{claim_id}/attachments",
    status_code=201,
    summary="Attach a file (photo, PDF, video) to the claim",
    response_model=AttachmentRead,
    responses=problem_responses(400, 401, 403, 404, 409, 413, 415, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                }
            },
        }
    },
)
async def attach_file(
    request: Request,
    principal: ClaimsWriter,
    claims: Claims,
    sessions: Sessions,
    claim_id: uuid.UUID,
) -> Response:
    """Streamed to the attachment store under the size limit: a declared
    length over it, or the first byte past it, ends the upload with 413."""
    limit = claims.settings.max_attachment_bytes
    declared = request.headers.get("content-length")
    if declared is not None and (
        not declared.isdigit() or int(declared) > limit + MULTIPART_OVERHEAD
    ):
        raise UploadTooLargeError(limit)
    await claims.check_attachable(sessions, principal.account, claim_id)
    incoming = await read_file(
        request.stream(),
        request.headers.get("content-type"),
        max_bytes=limit,
        allowed=claims.settings.attachment_media_types,
    )
    claim, attachment = await claims.attach(
        sessions,
        principal.account,
        claim_id,
        Upload(incoming.filename, incoming.media_type, incoming.chunks),
    )
    read = next(
        item
        for item in claim_read(claim, principal.account.zone, _now()).attachments
        if item.id == attachment.id
    )
    return Response(
        read.model_dump_json().encode(),
        status_code=201,
        media_type="application/json",
        headers={"Location": read.content_url},
    )


@router.get(
    "/{claim_id}/attachments/{attachment_id}",
    summary="Download one of the claim's files",
    response_class=Response,
    responses={
        200: {
            "content": {"application/octet-stream": {}},
            "description": "The file as uploaded, streamed.",
        },
        **problem_responses(401, 403, 404, 422),
    },
)
async def download_attachment(
    principal: ClaimsReader,
    claims: Claims,
    session: DbSession,
    claim_id: uuid.UUID,
    attachment_id: uuid.UUID,
) -> Response:
    found = await ClaimRepository(session).attachment(
        principal.account.id, claim_id, attachment_id
    )
    await session.close()
    if found is None:
        raise NotFoundError("attachment", attachment_id)
    attachment, key = found
    chunks = claims.store.get(key)
    try:
        first = await anext(chunks, b"")
    except KeyError:
        raise NotFoundError("attachment content", attachment_id) from None

    async def body() -> AsyncIterator[bytes]:
        if first:
            yield first
        async for chunk in chunks:
            yield chunk

    return StreamingResponse(
        body(),
        media_type=attachment.media_type,
        headers={
            "Content-Disposition": content_disposition(attachment.filename),
            "Content-Length": str(attachment.size),
            "ETag": f'"{attachment.sha256}"',
            "X-Content-Type-Options": "nosniff",
        },
    )
