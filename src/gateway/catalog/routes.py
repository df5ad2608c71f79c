"""Catalog endpoints: product search, product detail and bulk availability."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from domain.accounts.scopes import Scope
from domain.catalog.service import AvailabilityRequest, CatalogService
from gateway.accounts.service import Principal
from gateway.api.dependencies import Cursors, DbSession, require
from gateway.api.errors import ApiError
from gateway.api.problems import SERVICE_UNAVAILABLE, problem_responses
from gateway.api.routing import PorticoRoute
from gateway.api.types import Sku
from gateway.backends import Backends
from gateway.catalog.schemas import (
    AvailabilityAnswer,
    AvailabilityQuery,
    ProductContent,
    ProductDetail,
    ProductPageRead,
    availability_read,
    freshness,
    missing_read,
    price_read,
    stock_read,
    summary,
)
from gateway.references import EntityKind, ReferenceRepository

router = APIRouter(prefix="/v1/catalog", route_class=PorticoRoute, tags=["catalog"])

CatalogReader = Annotated[Principal, Depends(require(Scope.CATALOG_READ))]
LISTING = "catalog.products"


def get_catalog(request: Request) -> CatalogService:
    catalog: CatalogService | None = request.app.state.catalog
    if catalog is None:
        raise ApiError(
            SERVICE_UNAVAILABLE,
            "no ERP connector is configured for this deployment (PORTICO_PORTS__ERP)",
        )
    return catalog


Catalog = Annotated[CatalogService, Depends(get_catalog)]


async def customer_ref(
    request: Request, principal: Principal, session: DbSession
) -> str | None:
    """The caller's customer id in the ERP, if the account is linked to one."""
    backends: Backends = request.app.state.backends
    return await ReferenceRepository(session).external_id(
        EntityKind.ACCOUNT, principal.account.id, backends.erp_name
    )


@router.get(
    "/products",
    summary="Search the catalog",
    responses=problem_responses(401, 403, 422, 502, 503, 504),
)
async def search_products(
    _: CatalogReader,
    catalog: Catalog,
    cursors: Cursors,
    q: Annotated[
        str | None, Query(max_length=100, description="Text in name or SKU.")
    ] = None,
    category: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> ProductPageRead:
    after = None
    if cursor is not None:
        [after] = cursors.decode(cursor, LISTING, None) or [None]
    page = await catalog.search(
        text=q or None,
        category=category or None,
        after_sku=str(after) if after is not None else None,
        limit=limit,
    )
    next_cursor = (
        cursors.encode(LISTING, None, [page.next_after]) if page.next_after else None
    )
    return ProductPageRead(
        items=[summary(product) for product in page.items], next_cursor=next_cursor
    )


@router.get(
    "/products/{sku}",
    summary="A product with the caller's price and stock",
    responses=problem_responses(401, 403, 404, 422),
)
async def read_product(
    request: Request,
    principal: CatalogReader,
    catalog: Catalog,
    session: DbSession,
    sku: Annotated[Sku, Path()],
    quantity: Annotated[int, Query(gt=0, le=1_000_000)] = 1,
) -> ProductDetail:
    ref = await customer_ref(request, principal, session)
    view = await catalog.product(ref, sku, Decimal(quantity))
    now = datetime.now(UTC)
    content = None
    if view.content is not None and view.content.value is not None:
        product = view.content.value
        content = ProductContent(
            **summary(product).model_dump(),
            description=product.description,
            freshness=freshness(view.content.fetched_at, view.content.from_cache, now),
        )
    return ProductDetail(
        sku=sku,
        complete=view.complete,
        content=content,
        price=None if view.price is None else price_read(view.price, now),
        stock=None if view.stock is None else stock_read(view.stock, now),
        missing=[missing_read(missing) for missing in view.missing],
    )


@router.post(
    "/availability",
    summary="Price and stock for many SKUs at once",
    responses=problem_responses(401, 403, 413, 415, 422),
)
async def check_availability(
    request: Request,
    principal: CatalogReader,
    catalog: Catalog,
    session: DbSession,
    query: AvailabilityQuery,
) -> AvailabilityAnswer:
    ref = await customer_ref(request, principal, session)
    results = await catalog.availability(
        ref,
        [
            AvailabilityRequest(sku=item.sku, quantity=Decimal(item.quantity))
            for item in query.items
        ],
    )
    now = datetime.now(UTC)
    items = [availability_read(item, now) for item in results]
    return AvailabilityAnswer(
        complete=all(not item.missing for item in items), items=items
    )
