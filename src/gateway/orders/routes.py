"""Order endpoints."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.accounts.scopes import Scope
from domain.errors import DomainError, InvalidInputError, NotFoundError
from domain.orders.model import RequestedLine
from domain.orders.status import OrderStatus
from gateway.accounts.service import Principal
from gateway.api import idempotency
from gateway.api.dependencies import Cursors, DbSession, get_sessions, require
from gateway.api.errors import ApiError
from gateway.api.problems import (
    SERVICE_UNAVAILABLE,
    problem_responses,
)
from gateway.api.routing import PorticoRoute
from gateway.api.types import FilterDate
from gateway.db.engine import transaction
from gateway.documents.repository import (
    DocumentFilter,
    DocumentRepository,
    DocumentSort,
)
from gateway.documents.schemas import document_read
from gateway.orders.export import export_response
from gateway.orders.repository import OrderFilter, OrderRepository, SortKey
from gateway.orders.schemas import (
    OrderCreate,
    OrderDetail,
    OrderPage,
    OrderRead,
    order_read,
    order_summary,
)
from gateway.orders.service import OrderRequest, OrderService

COLLECTION = "/v1/orders"
router = APIRouter(prefix=COLLECTION, route_class=PorticoRoute, tags=["orders"])

OrdersReader = Annotated[Principal, Depends(require(Scope.ORDERS_READ))]
OrdersWriter = Annotated[Principal, Depends(require(Scope.ORDERS_WRITE))]
OrdersApprover = Annotated[Principal, Depends(require(Scope.ORDERS_APPROVE))]
Sessions = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Required. A retry with the same key replays the first answer.",
    ),
]
SortName = Literal["created_at", "-created_at", "total", "-total", "status", "-status"]

PAGE_LIMIT = 100
#: An order rarely has more; the documents listing pages through any number.
RELATED_DOCUMENTS_LIMIT = 100


def get_orders(request: Request) -> OrderService:
    orders: OrderService | None = request.app.state.orders
    if orders is None:
        raise ApiError(
            SERVICE_UNAVAILABLE,
            "no ERP connector is configured for this deployment (PORTICO_PORTS__ERP)",
        )
    return orders


Orders = Annotated[OrderService, Depends(get_orders)]


async def _place_once(
    *,
    request: Request,
    principal: Principal,
    orders: OrderService,
    sessions: async_sessionmaker[AsyncSession],
    key_header: str | None,
    scope: str,
    create: OrderCreate,
    reordered_from: uuid.UUID | None = None,
) -> Response:
    """Place an order at most once per idempotency key (case C09)."""
    account = principal.account
    key = idempotency.require_key(key_header)
    digest = idempotency.request_digest(scope, create.model_dump(mode="json"))
    claimed = await idempotency.claim(sessions, account.id, key, scope, digest)
    if isinstance(claimed, idempotency.StoredAnswer):
        return idempotency.answer(claimed, COLLECTION)
    try:
        async with transaction(sessions) as session:
            buyer = await orders.buyer(session, account)
        prepared = await orders.prepare(
            buyer,
            OrderRequest(
                lines=[RequestedLine(line.sku, line.quantity) for line in create.lines],
                requested_date=create.requested_date,
                customer_reference=create.customer_reference,
                order_date=create.order_date,
            ),
        )
        async with transaction(sessions) as session:
            order = await orders.create(
                session, prepared, reordered_from=reordered_from
            )
            created = idempotency.StoredAnswer(
                201, order_read(order).model_dump_json().encode()
            )
            await idempotency.remember(session, claimed, created)
        return idempotency.answer(created, COLLECTION)
    except DomainError as error:
        return await idempotency.refuse(sessions, claimed, error, request.url.path)
    except BaseException:
        await idempotency.release(sessions, claimed)
        raise


@router.post(
    "",
    status_code=201,
    response_model=OrderRead,
    summary="Place an order",
    responses=problem_responses(400, 401, 403, 409, 413, 415, 422, 502, 503, 504),
)
async def place_order(
    request: Request,
    principal: OrdersWriter,
    orders: Orders,
    sessions: Sessions,
    create: OrderCreate,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    return await _place_once(
        request=request,
        principal=principal,
        orders=orders,
        sessions=sessions,
        key_header=idempotency_key,
        scope="orders.create",
        create=create,
    )


def order_filter(
    principal: Principal,
    status: list[OrderStatus] | None,
    created_from: date | None,
    created_to: date | None,
    reference: str | None,
) -> OrderFilter:
    """Filters with dates taken in the account's time zone, half-open."""
    if created_from and created_to and created_to < created_from:
        raise InvalidInputError("created_to is before created_from", field="created_to")
    zone = principal.account.zone
    return OrderFilter(
        statuses=frozenset(status or ()),
        created_from=None
        if created_from is None
        else datetime.combine(created_from, time.min, zone),
        created_before=None
        if created_to is None
        else datetime.combine(created_to + timedelta(days=1), time.min, zone),
        reference_text=reference or None,
    )


StatusFilter = Annotated[list[OrderStatus] | None, Query(description="Repeatable.")]
FromDate = Annotated[
    FilterDate | None, Query(description="First day, in the account's time zone.")
]
ToDate = Annotated[
    FilterDate | None,
    Query(description="Last day (inclusive), in the account's time zone."),
]
ReferenceText = Annotated[
    str | None, Query(max_length=100, description="Text in the customer reference.")
]


@router.get(
    "/export",
    summary="Export orders as CSV or XLSX",
    responses={
        200: {
            "content": {
                "text/csv": {},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
            },
            "description": "The matching orders, one line per order line.",
        },
        **problem_responses(401, 403, 422),
    },
    response_class=Response,
)
async def export_orders(
    principal: OrdersReader,
    sessions: Sessions,
    format: Annotated[Literal["csv", "xlsx"], Query()] = "csv",
    status: StatusFilter = None,
    created_from: FromDate = None,
    created_to: ToDate = None,
    reference: ReferenceText = None,
    sort: SortName = "-created_at",
) -> Response:
    filters = order_filter(principal, status, created_from, created_to, reference)
    return await export_response(
        sessions, principal.account, filters, _sort_key(sort), format
    )


def _sort_key(sort: str) -> SortKey:
    return SortKey(field=sort.lstrip("-"), descending=sort.startswith("-"))


@router.get(
    "",
    summary="The account's orders",
    responses=problem_responses(401, 403, 422),
)
async def list_orders(
    principal: OrdersReader,
    session: DbSession,
    cursors: Cursors,
    status: StatusFilter = None,
    created_from: FromDate = None,
    created_to: ToDate = None,
    reference: ReferenceText = None,
    sort: SortName = "-created_at",
    limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT)] = 20,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> OrderPage:
    sort_key = _sort_key(sort)
    listing = f"orders:{sort}"
    account_id = principal.account.id
    after = None
    if cursor is not None:
        position = cursors.decode(cursor, listing, account_id)
        try:
            after = sort_key.parse(position)
        except (ValueError, TypeError):
            raise InvalidInputError(
                "the cursor is not valid for this listing", field="cursor"
            ) from None
    filters = order_filter(principal, status, created_from, created_to, reference)
    orders, next_position = await OrderRepository(session).page(
        account_id, filters, sort_key, after, limit
    )
    return OrderPage(
        items=[order_summary(order) for order in orders],
        next_cursor=None
        if next_position is None
        else cursors.encode(listing, account_id, next_position),
    )


@router.get(
    "/{order_id}",
    summary="One order with its lines, timeline and documents",
    responses=problem_responses(401, 403, 404, 422),
)
async def read_order(
    principal: OrdersReader, session: DbSession, order_id: uuid.UUID
) -> OrderDetail:
    account_id = principal.account.id
    order = await OrderRepository(session).get(account_id, order_id)
    if order is None:
        raise NotFoundError("order", order_id)
    documents, _ = await DocumentRepository(session).page(
        account_id,
        DocumentFilter(order_id=order_id),
        DocumentSort(field="issue_date", descending=False),
        None,
        RELATED_DOCUMENTS_LIMIT,
    )
    return OrderDetail(
        **order_read(order).model_dump(),
        documents=[document_read(document) for document in documents],
    )


@router.post(
    "/{order_id}/approve",
    summary="Approve an order waiting for approval",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def approve_order(
    principal: OrdersApprover, orders: Orders, sessions: Sessions, order_id: uuid.UUID
) -> OrderRead:
    async with transaction(sessions) as session:
        order = await orders.approve(session, principal.account, order_id)
    return order_read(order)


@router.post(
    "/{order_id}/cancel",
    summary="Cancel an order, in the ERP too",
    responses=problem_responses(401, 403, 404, 409, 422, 502, 503, 504),
)
async def cancel_order(
    principal: OrdersWriter, orders: Orders, sessions: Sessions, order_id: uuid.UUID
) -> OrderRead:
    async with transaction(sessions) as session:
        order = await orders.cancel(session, principal.account, order_id)
    return order_read(order)


@router.post(
    "/{order_id}/reorder",
    status_code=201,
    response_model=OrderRead,
    summary="Place the same lines again at today's prices",
    responses=problem_responses(400, 401, 403, 404, 409, 422, 502, 503, 504),
)
async def reorder(
    request: Request,
    principal: OrdersWriter,
    orders: Orders,
    sessions: Sessions,
    order_id: uuid.UUID,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    async with transaction(sessions) as session:
        original = await OrderRepository(session).get(principal.account.id, order_id)
    if original is None:
        raise NotFoundError("order", order_id)
    create = OrderCreate.model_validate(
        {
            "lines": [
                {"sku": line.sku, "quantity": line.quantity} for line in original.lines
            ],
            "customer_reference": original.customer_reference,
        }
    )
    return await _place_once(
        request=request,
        principal=principal,
        orders=orders,
        sessions=sessions,
        key_header=idempotency_key,
        scope=f"orders.reorder:{order_id}",
        create=create,
        reordered_from=order_id,
    )
