"""The catalog's API shapes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from domain.catalog.model import (
    Fetched,
    MissingPart,
    Part,
    PriceQuote,
    Product,
    StockLevel,
)
from domain.catalog.service import Availability
from gateway.api.types import MoneyModel, Sku


class MissingPartRead(BaseModel):
    """A part the answer lacks and why; the rest of the answer is still true."""

    part: Part
    reason: str = Field(
        description=(
            "timeout, unavailable, circuit_open, rejected, not_found, "
            "protocol_error, or no_value"
        ),
        examples=["timeout"],
    )
    system: str = Field(description="The connector that did not deliver it.")
    detail: str


class Freshness(BaseModel):
    as_of: datetime = Field(description="When the backend was asked.")
    cached: bool = Field(description="Whether this value came from the cache.")
    age_seconds: float = Field(description="How old the value was when sent.")


class ProductSummary(BaseModel):
    sku: str
    name: str
    category: str | None
    unit: str
    list_price: MoneyModel | None


class ProductContent(ProductSummary):
    description: str
    freshness: Freshness


class PriceRead(BaseModel):
    quantity: str = Field(description="The quantity the unit price applies to.")
    unit_price: MoneyModel
    basis: str = Field(
        description="customer_price_list when the account's own list applied."
    )
    freshness: Freshness


class WarehouseStockRead(BaseModel):
    warehouse: str
    quantity: str


class StockRead(BaseModel):
    total: str = Field(description="Quantity available over all warehouses.")
    warehouses: list[WarehouseStockRead]
    freshness: Freshness


class ProductDetail(BaseModel):
    """A product as the caller sees it: content, own price and stock.

    ``complete`` is false when any part is missing; ``missing`` says which
    and why. A partial answer is never cached as complete.
    """

    sku: str
    complete: bool
    content: ProductContent | None
    price: PriceRead | None
    stock: StockRead | None
    missing: list[MissingPartRead]


class ProductPageRead(BaseModel):
    items: list[ProductSummary]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next page; null on the last page."
    )


class AvailabilityItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Sku
    quantity: Annotated[int, Field(gt=0, le=1_000_000, strict=True)] = 1


class AvailabilityQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: Annotated[list[AvailabilityItem], Field(min_length=1, max_length=100)]


class AvailabilityRead(BaseModel):
    sku: str
    quantity: str
    known: bool | None = Field(
        description="false for an unknown SKU; null when the catalog did not answer."
    )
    price: PriceRead | None
    stock: StockRead | None
    missing: list[MissingPartRead]


class AvailabilityAnswer(BaseModel):
    complete: bool
    items: list[AvailabilityRead]


def _quantity(value: Decimal) -> str:
    return f"{value.normalize():f}"


def freshness(fetched_at: datetime, cached: bool, now: datetime) -> Freshness:
    age = max((now - fetched_at).total_seconds(), 0.0)
    return Freshness(as_of=fetched_at, cached=cached, age_seconds=round(age, 3))


def summary(product: Product) -> ProductSummary:
    return ProductSummary(
        sku=product.sku,
        name=product.name,
        category=product.category,
        unit=product.unit,
        list_price=None
        if product.list_price is None
        else MoneyModel.of(product.list_price),
    )


def missing_read(missing: MissingPart) -> MissingPartRead:
    return MissingPartRead(
        part=missing.part,
        reason=missing.reason,
        system=missing.system,
        detail=missing.detail,
    )


def price_read(fetched: Fetched[PriceQuote], now: datetime) -> PriceRead:
    quote = fetched.value
    return PriceRead(
        quantity=_quantity(quote.quantity),
        unit_price=MoneyModel.of(quote.unit_price),
        basis=quote.basis,
        freshness=freshness(fetched.fetched_at, fetched.from_cache, now),
    )


def stock_read(fetched: Fetched[StockLevel], now: datetime) -> StockRead:
    level = fetched.value
    return StockRead(
        total=_quantity(level.total),
        warehouses=[
            WarehouseStockRead(warehouse=w.warehouse, quantity=_quantity(w.quantity))
            for w in level.warehouses
        ],
        freshness=freshness(fetched.fetched_at, fetched.from_cache, now),
    )


def availability_read(item: Availability, now: datetime) -> AvailabilityRead:
    return AvailabilityRead(
        sku=item.sku,
        quantity=_quantity(item.quantity),
        known=item.known,
        price=None if item.price is None else price_read(item.price, now),
        stock=None if item.stock is None else stock_read(item.stock, now),
        missing=[missing_read(m) for m in item.missing],
    )
