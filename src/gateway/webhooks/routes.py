"""Webhook endpoints and the delivery log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.accounts.scopes import Scope
from domain.errors import DomainError, InvalidInputError, NotFoundError
from gateway.accounts.service import Principal
from gateway.api import idempotency
from gateway.api.dependencies import Cursors, DbSession, get_sessions, require
from gateway.api.problems import problem_responses
from gateway.api.routing import PorticoRoute
from gateway.api.types import Timestamp
from gateway.db.engine import transaction
from gateway.webhooks.messages import PING_TYPE
from gateway.webhooks.repository import (
    DeliveryFilter,
    DeliveryRepository,
    EndpointRepository,
)
from gateway.webhooks.schemas import (
    WebhookDeliveryPage,
    WebhookDeliveryRead,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointPage,
    WebhookEndpointRead,
    WebhookEndpointUpdate,
    WebhookReplay,
    WebhookReplayResult,
    WebhookSecret,
    delivery_read,
    endpoint_read,
)
from gateway.webhooks.service import WebhookEndpoints, known_event_types
from gateway.webhooks.settings import WebhookSettings
from gateway.webhooks.states import DeliveryStatus

#: Where endpoints live; a created one is at COLLECTION/{id}.
COLLECTION = "/v1/webhooks/endpoints"
router = APIRouter(prefix="/v1/webhooks", route_class=PorticoRoute, tags=["webhooks"])

WebhooksReader = Annotated[Principal, Depends(require(Scope.WEBHOOKS_READ))]
WebhooksWriter = Annotated[Principal, Depends(require(Scope.WEBHOOKS_WRITE))]
Sessions = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Optional. A retry with the same key replays the first "
        "answer (with the same secret) instead of creating a second endpoint.",
        # No max_length: idempotency.require_key judges the key, so a bad one
        # is the same 400 invalid_idempotency_key as on every other route.
    ),
]
PageLimit = Annotated[int, Query(ge=1, le=100)]
PageCursor = Annotated[str | None, Query(max_length=2048)]

ENDPOINTS_LISTING = "webhook_endpoints"
DELIVERIES_LISTING = "webhook_deliveries"


def get_webhook_settings(request: Request) -> WebhookSettings:
    """The deployment's webhook settings (``Settings.webhooks``)."""
    settings: WebhookSettings = request.app.state.settings.webhooks
    return settings


def get_endpoints(
    settings: Annotated[WebhookSettings, Depends(get_webhook_settings)],
) -> WebhookEndpoints:
    return WebhookEndpoints(settings)


Endpoints = Annotated[WebhookEndpoints, Depends(get_endpoints)]


CREATE_SCOPE = "webhooks.endpoints.create"


async def _create(
    endpoints: WebhookEndpoints,
    session: AsyncSession,
    account_id: uuid.UUID,
    create: WebhookEndpointCreate,
) -> bytes:
    row, secret = await endpoints.create(session, account_id, create)
    created = WebhookEndpointCreated(**endpoint_read(row).model_dump(), secret=secret)
    return created.model_dump_json().encode()


@router.post(
    "/endpoints",
    status_code=201,
    response_model=WebhookEndpointCreated,
    summary="Register a webhook endpoint; its secret is shown only here",
    responses=problem_responses(400, 401, 403, 409, 415, 422),
)
async def create_endpoint(
    request: Request,
    principal: WebhooksWriter,
    endpoints: Endpoints,
    sessions: Sessions,
    create: WebhookEndpointCreate,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    account_id = principal.account.id
    if idempotency_key is None:
        async with transaction(sessions) as session:
            body = await _create(endpoints, session, account_id, create)
        return idempotency.answer(idempotency.StoredAnswer(201, body), COLLECTION)
    key = idempotency.require_key(idempotency_key)
    digest = idempotency.request_digest(CREATE_SCOPE, create.model_dump(mode="json"))
    claimed = await idempotency.claim(sessions, account_id, key, CREATE_SCOPE, digest)
    if isinstance(claimed, idempotency.StoredAnswer):
        return idempotency.answer(claimed, COLLECTION)
    try:
        async with transaction(sessions) as session:
            body = await _create(endpoints, session, account_id, create)
            created = idempotency.StoredAnswer(201, body)
            await idempotency.remember(session, claimed, created)
    except DomainError as error:
        return await idempotency.refuse(sessions, claimed, error, request.url.path)
    except BaseException:
        await idempotency.release(sessions, claimed)
        raise
    return idempotency.answer(created, COLLECTION)


@router.get(
    "/endpoints",
    summary="The account's webhook endpoints, oldest first",
    responses=problem_responses(401, 403, 422),
)
async def list_endpoints(
    principal: WebhooksReader,
    session: DbSession,
    cursors: Cursors,
    limit: PageLimit = 20,
    cursor: PageCursor = None,
) -> WebhookEndpointPage:
    account_id = principal.account.id
    after = None
    if cursor is not None:
        position = cursors.decode(cursor, ENDPOINTS_LISTING, account_id)
        try:
            created_at, endpoint_id = position
            after = (datetime.fromisoformat(created_at), uuid.UUID(endpoint_id))
        except (ValueError, TypeError):
            raise InvalidInputError(
                "the cursor is not valid for this listing", field="cursor"
            ) from None
    rows, next_position = await EndpointRepository(session).page(
        account_id, after, limit
    )
    return WebhookEndpointPage(
        items=[endpoint_read(row) for row in rows],
        next_cursor=None
        if next_position is None
        else cursors.encode(
            ENDPOINTS_LISTING,
            account_id,
            [next_position[0].isoformat(), str(next_position[1])],
        ),
    )


@router.get(
    "/endpoints/{endpoint_id}",
    summary="One webhook endpoint",
    responses=problem_responses(401, 403, 404, 422),
)
async def read_endpoint(
    principal: WebhooksReader,
    endpoints: Endpoints,
    session: DbSession,
    endpoint_id: uuid.UUID,
) -> WebhookEndpointRead:
    row = await endpoints.get(session, principal.account.id, endpoint_id)
    return endpoint_read(row)


@router.patch(
    "/endpoints/{endpoint_id}",
    summary="Change a webhook endpoint; fields left out keep their value",
    responses=problem_responses(401, 403, 404, 415, 422),
)
async def update_endpoint(
    principal: WebhooksWriter,
    endpoints: Endpoints,
    sessions: Sessions,
    endpoint_id: uuid.UUID,
    change: WebhookEndpointUpdate,
) -> WebhookEndpointRead:
    async with transaction(sessions) as session:
        row = await endpoints.update(session, principal.account.id, endpoint_id, change)
    return endpoint_read(row)


@router.delete(
    "/endpoints/{endpoint_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a webhook endpoint with its deliveries and their log",
    responses=problem_responses(401, 403, 404, 422),
)
async def delete_endpoint(
    principal: WebhooksWriter,
    endpoints: Endpoints,
    sessions: Sessions,
    endpoint_id: uuid.UUID,
) -> Response:
    async with transaction(sessions) as session:
        await endpoints.remove(session, principal.account.id, endpoint_id)
    return Response(status_code=204)


@router.post(
    "/endpoints/{endpoint_id}/rotate-secret",
    summary="Issue a new signing secret; the old one signs too for a grace period",
    responses=problem_responses(401, 403, 404, 422),
)
async def rotate_secret(
    principal: WebhooksWriter,
    endpoints: Endpoints,
    sessions: Sessions,
    endpoint_id: uuid.UUID,
) -> WebhookSecret:
    async with transaction(sessions) as session:
        row, secret = await endpoints.rotate_secret(
            session, principal.account.id, endpoint_id
        )
    assert row.previous_secret_expires_at is not None
    return WebhookSecret(
        secret=secret, previous_secret_expires_at=row.previous_secret_expires_at
    )


@router.post(
    "/endpoints/{endpoint_id}/test",
    status_code=202,
    summary="Send a webhook.ping to the endpoint",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def send_test(
    principal: WebhooksWriter,
    endpoints: Endpoints,
    sessions: Sessions,
    endpoint_id: uuid.UUID,
) -> WebhookDeliveryRead:
    async with transaction(sessions) as session:
        delivery = await endpoints.send_test(session, principal.account.id, endpoint_id)
    return delivery_read(delivery, [])


@router.post(
    "/endpoints/{endpoint_id}/replay",
    status_code=202,
    summary="Send the events of a time window again",
    description="Queues one new delivery per event of the window that the "
    "endpoint's filter takes, with the event's original body and webhook-id.",
    responses=problem_responses(401, 403, 404, 409, 415, 422),
)
async def replay_window(
    principal: WebhooksWriter,
    endpoints: Endpoints,
    sessions: Sessions,
    endpoint_id: uuid.UUID,
    replay: WebhookReplay,
) -> WebhookReplayResult:
    async with transaction(sessions) as session:
        queued = await endpoints.replay(
            session, principal.account.id, endpoint_id, replay.since, replay.until
        )
    return WebhookReplayResult(deliveries=queued)


StatusFilter = Annotated[list[DeliveryStatus] | None, Query(description="Repeatable.")]
EventTypeFilter = Annotated[list[str] | None, Query(description="Repeatable.")]
Since = Annotated[
    Timestamp | None, Query(description="Created at or after (with an offset).")
]
Until = Annotated[Timestamp | None, Query(description="Created before.")]


def _delivered_types(types: list[str]) -> frozenset[str]:
    """Catalog types and webhook.ping; anything else is a 422."""
    return frozenset(known_event_types([t for t in types if t != PING_TYPE])) | (
        {PING_TYPE} & set(types)
    )


@router.get(
    "/deliveries",
    summary="The delivery log, newest first, with every attempt",
    responses=problem_responses(401, 403, 422),
)
async def list_deliveries(
    principal: WebhooksReader,
    session: DbSession,
    cursors: Cursors,
    endpoint_id: uuid.UUID | None = None,
    status: StatusFilter = None,
    event_type: EventTypeFilter = None,
    since: Since = None,
    until: Until = None,
    limit: PageLimit = 20,
    cursor: PageCursor = None,
) -> WebhookDeliveryPage:
    account_id = principal.account.id
    after = None
    if cursor is not None:
        position = cursors.decode(cursor, DELIVERIES_LISTING, account_id)
        if len(position) != 1 or not isinstance(position[0], int):
            raise InvalidInputError(
                "the cursor is not valid for this listing", field="cursor"
            )
        after = position[0]
    filters = DeliveryFilter(
        endpoint_id=endpoint_id,
        statuses=frozenset(status or ()),
        event_types=_delivered_types(event_type or []),
        since=since,
        until=until,
    )
    repository = DeliveryRepository(session)
    rows, next_seq = await repository.page(account_id, filters, after, limit)
    attempts = await repository.attempts(rows)
    return WebhookDeliveryPage(
        items=[delivery_read(row, attempts[row.id]) for row in rows],
        next_cursor=None
        if next_seq is None
        else cursors.encode(DELIVERIES_LISTING, account_id, [next_seq]),
    )


@router.get(
    "/deliveries/{delivery_id}",
    summary="One delivery with every attempt",
    responses=problem_responses(401, 403, 404, 422),
)
async def read_delivery(
    principal: WebhooksReader, session: DbSession, delivery_id: uuid.UUID
) -> WebhookDeliveryRead:
    repository = DeliveryRepository(session)
    row = await repository.get(principal.account.id, delivery_id)
    if row is None:
        raise NotFoundError("webhook delivery", delivery_id)
    attempts = await repository.attempts([row])
    return delivery_read(row, attempts[row.id])


@router.post(
    "/deliveries/{delivery_id}/retry",
    status_code=202,
    summary="Send a delivery again now, with a fresh budget of attempts",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def retry_delivery(
    principal: WebhooksWriter,
    endpoints: Endpoints,
    sessions: Sessions,
    delivery_id: uuid.UUID,
) -> WebhookDeliveryRead:
    async with transaction(sessions) as session:
        row = await endpoints.retry(session, principal.account.id, delivery_id)
        attempts = await DeliveryRepository(session).attempts([row])
    return delivery_read(row, attempts[row.id])
