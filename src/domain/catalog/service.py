"""Catalog reads that fan out to several backends at once.

A product detail combines content (CMS, or the ERP's master data), the
caller's price and stock. The three are asked in parallel, each under the
read's deadline. A part whose backend is slow, down or behind an open circuit
is left out and named in ``missing`` with the reason: the caller gets what
there is, said honestly, rather than a 500 or a silent gap.

Parts are cached one by one, only when they were fetched successfully, for a
short time. A partial answer is therefore never cached as if it were whole:
the next read asks again for exactly the parts that were missing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from domain.backends import BackendError
from domain.catalog.model import (
    Fetched,
    MissingPart,
    Part,
    PriceQuote,
    Product,
    ProductPage,
    ProductView,
    StockLevel,
)
from domain.errors import InvalidInputError, NotFoundError
from domain.ports import CmsPort, ErpPort

T = TypeVar("T")

MAX_AVAILABILITY_ITEMS = 100
MAX_PAGE_SIZE = 100


class PartCache(Protocol):
    """A short-lived store of parts that were fetched whole."""

    def get(self, part: Part, key: str) -> Fetched[Any] | None: ...

    def put(self, part: Part, key: str, value: Fetched[Any]) -> None: ...


class Clock(Protocol):
    def __call__(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class AvailabilityRequest:
    sku: str
    quantity: Decimal


@dataclass(slots=True)
class Availability:
    """Price and stock of one requested SKU, or why they are missing."""

    sku: str
    quantity: Decimal
    known: bool | None
    price: Fetched[PriceQuote] | None
    stock: Fetched[StockLevel] | None
    missing: list[MissingPart]


class CatalogService:
    """Product search, product detail and bulk availability for one caller."""

    def __init__(
        self,
        *,
        erp: ErpPort,
        content: CmsPort,
        erp_name: str,
        content_name: str,
        cache: PartCache,
        clock: Clock,
        read_deadline_seconds: float,
    ) -> None:
        self._erp = erp
        self._content = content
        self._erp_name = erp_name
        self._content_name = content_name
        self._cache = cache
        self._clock = clock
        self._deadline = read_deadline_seconds

    async def search(
        self,
        *,
        text: str | None,
        category: str | None,
        after_sku: str | None,
        limit: int,
    ) -> ProductPage:
        """A page of products; the ERP's failure is the caller's 503 or 504."""
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidInputError(
                f"limit must be between 1 and {MAX_PAGE_SIZE}", field="limit"
            )
        return await self._erp.search_products(
            text=text, category=category, after_sku=after_sku, limit=limit
        )

    async def product(
        self, customer_ref: str | None, sku: str, quantity: Decimal = Decimal(1)
    ) -> ProductView:
        """Content, the caller's price and stock of ``sku``, fetched in parallel.

        Raises NotFoundError only when the content backend answered and does
        not know the SKU; when it did not answer, the view says so instead.
        """
        price_key = f"{customer_ref or '-'}|{sku}|{quantity}"
        content, price, stock = await asyncio.gather(
            self._part(Part.CONTENT, sku, self._content_name, self._one_content(sku)),
            self._part(
                Part.PRICE,
                price_key,
                self._erp_name,
                self._one_price(customer_ref, sku, quantity),
            ),
            self._part(Part.STOCK, sku, self._erp_name, self._one_stock(sku)),
        )
        view = ProductView(sku=sku)
        if isinstance(content, MissingPart):
            view.missing.append(content)
        elif content.value is None:
            raise NotFoundError("product", sku)
        else:
            view.content = Fetched(
                content.value, content.fetched_at, content.from_cache
            )
        if isinstance(price, MissingPart):
            view.missing.append(price)
        elif price.value is None:
            view.missing.append(self._no_value(Part.PRICE, self._erp_name))
        else:
            view.price = Fetched(price.value, price.fetched_at, price.from_cache)
        if isinstance(stock, MissingPart):
            view.missing.append(stock)
        else:
            view.stock = stock
        return view

    async def availability(
        self, customer_ref: str | None, requests: Sequence[AvailabilityRequest]
    ) -> list[Availability]:
        """Price and stock for many SKUs in one round of parallel calls."""
        if not requests:
            raise InvalidInputError("ask for at least one SKU", field="items")
        if len(requests) > MAX_AVAILABILITY_ITEMS:
            raise InvalidInputError(
                f"at most {MAX_AVAILABILITY_ITEMS} SKUs per call; got {len(requests)}",
                field="items",
            )
        skus = sorted({request.sku for request in requests})
        quantities = sorted({request.quantity for request in requests})
        known_call = self._timed(
            Part.CONTENT, self._content_name, self._content.product_content(skus)
        )
        stock_call = self._timed(
            Part.STOCK, self._erp_name, self._erp.stock_levels(skus)
        )
        price_calls = [
            self._timed(
                Part.PRICE,
                self._erp_name,
                self._erp.quote_prices(customer_ref, skus, quantity),
            )
            for quantity in quantities
        ]
        (known, stock), prices = await asyncio.gather(
            asyncio.gather(known_call, stock_call), asyncio.gather(*price_calls)
        )
        now = self._clock()
        return [
            self._availability_of(request, known, stock, prices, quantities, now)
            for request in requests
        ]

    def _availability_of(
        self,
        request: AvailabilityRequest,
        known: list[Product] | MissingPart,
        stock: list[StockLevel] | MissingPart,
        prices: Sequence[list[PriceQuote] | MissingPart],
        quantities: list[Decimal],
        now: datetime,
    ) -> Availability:
        result = Availability(
            sku=request.sku,
            quantity=request.quantity,
            known=None,
            price=None,
            stock=None,
            missing=[],
        )
        if isinstance(known, MissingPart):
            result.missing.append(known)
        else:
            result.known = any(product.sku == request.sku for product in known)
            if not result.known:
                return result
        quotes = prices[quantities.index(request.quantity)]
        if isinstance(quotes, MissingPart):
            result.missing.append(quotes)
        else:
            quote = next((q for q in quotes if q.sku == request.sku), None)
            if quote is None:
                result.missing.append(self._no_value(Part.PRICE, self._erp_name))
            else:
                result.price = Fetched(quote, now)
        if isinstance(stock, MissingPart):
            result.missing.append(stock)
        else:
            level = next((s for s in stock if s.sku == request.sku), None)
            result.stock = Fetched(
                level or StockLevel(sku=request.sku, warehouses=[], as_of=now), now
            )
        return result

    async def _one_content(self, sku: str) -> Product | None:
        found = await self._content.product_content([sku])
        return next((product for product in found if product.sku == sku), None)

    async def _one_price(
        self, customer_ref: str | None, sku: str, quantity: Decimal
    ) -> PriceQuote | None:
        quotes = await self._erp.quote_prices(customer_ref, [sku], quantity)
        return next((quote for quote in quotes if quote.sku == sku), None)

    async def _one_stock(self, sku: str) -> StockLevel:
        levels = await self._erp.stock_levels([sku])
        found = next((level for level in levels if level.sku == sku), None)
        return found or StockLevel(sku=sku, warehouses=[], as_of=self._clock())

    async def _part(
        self, part: Part, key: str, system: str, fetch: Awaitable[T]
    ) -> Fetched[T] | MissingPart:
        cached = self._cache.get(part, key)
        if cached is not None:
            if asyncio.iscoroutine(fetch):
                fetch.close()  # never awaited: the cache answered
            return Fetched(cached.value, cached.fetched_at, from_cache=True)
        result = await self._timed(part, system, fetch)
        if isinstance(result, MissingPart):
            return result
        fetched = Fetched(result, self._clock())
        if result is not None:
            self._cache.put(part, key, fetched)
        return fetched

    async def _timed(
        self, part: Part, system: str, call: Awaitable[T]
    ) -> T | MissingPart:
        """Await ``call`` within the read deadline, turning failure into a marker."""
        try:
            async with asyncio.timeout(self._deadline):
                return await call
        except TimeoutError:
            return MissingPart(
                part,
                "timeout",
                system,
                f"no answer within the read deadline of {self._deadline:g} s",
            )
        except BackendError as error:
            return MissingPart(part, error.reason, system, error.detail)

    def _no_value(self, part: Part, system: str) -> MissingPart:
        return MissingPart(part, "no_value", system, f"{system} has no {part.value}")
