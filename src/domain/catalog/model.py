"""Catalog entities as the unified model names them, whatever the backend."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Generic, TypeVar

from domain.money import Money

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Product:
    """A sellable item. ``sku`` is Portico's identifier across every system."""

    sku: str
    name: str
    description: str
    category: str | None
    unit: str
    list_price: Money | None


@dataclass(frozen=True, slots=True)
class ProductPage:
    items: list[Product]
    #: The last SKU of this page when more may follow, else None.
    next_after: str | None


@dataclass(frozen=True, slots=True)
class PriceQuote:
    """The price one customer pays for one product at one quantity."""

    sku: str
    quantity: Decimal
    unit_price: Money
    #: "customer_price_list" when the account's own list applied, else "list_price".
    basis: str
    as_of: datetime


@dataclass(frozen=True, slots=True)
class WarehouseStock:
    warehouse: str
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class StockLevel:
    """Stock of one product per warehouse, as the ERP knew it at ``as_of``."""

    sku: str
    warehouses: list[WarehouseStock]
    as_of: datetime

    @property
    def total(self) -> Decimal:
        return sum((level.quantity for level in self.warehouses), Decimal(0))


class Part(enum.StrEnum):
    """The parts a catalog answer combines, each from its own backend."""

    CONTENT = "content"
    PRICE = "price"
    STOCK = "stock"


@dataclass(frozen=True, slots=True)
class MissingPart:
    """A part the answer lacks, and why: what a partial answer says aloud."""

    part: Part
    reason: str
    system: str
    detail: str


@dataclass(frozen=True, slots=True)
class Fetched(Generic[T]):
    """A value with the time it was read from its backend."""

    value: T
    fetched_at: datetime
    from_cache: bool = False


@dataclass(slots=True)
class ProductView:
    """A product detail assembled from several backends, possibly partial."""

    sku: str
    content: Fetched[Product] | None = None
    price: Fetched[PriceQuote] | None = None
    stock: Fetched[StockLevel] | None = None
    missing: list[MissingPart] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.missing
