"""In-memory twins of the ports, for tests of the domain's own rules.

They keep products, prices and stock in dicts and can be told to be slow or to
fail per operation, so the fan-out's partial answers can be driven exactly.
Connector behaviour against real systems is tested elsewhere, on real peers.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from domain.backends import BackendError, BackendRejectedError
from domain.catalog.model import (
    PriceQuote,
    Product,
    ProductPage,
    StockLevel,
    WarehouseStock,
)
from domain.money import Money
from domain.orders.erp import (
    ErpChangePage,
    ErpOrderChange,
    ErpOrderReceipt,
    ErpOrderRequest,
    ErpOrderState,
)


@dataclass
class Behaviour:
    delay: float = 0.0
    error: BackendError | None = None


@dataclass
class InMemoryErp:
    """An ERP and content system in one, like the Tryton connector."""

    products: dict[str, Product] = field(default_factory=dict)
    stock: dict[str, list[WarehouseStock]] = field(default_factory=dict)
    customer_discounts: dict[str, Decimal] = field(default_factory=dict)
    behaviour: dict[str, Behaviour] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    orders: dict[str, ErpOrderRequest] = field(default_factory=dict)
    changes: list[ErpOrderChange] = field(default_factory=list)

    def add(self, sku: str, price: str, stock: int = 0) -> Product:
        product = Product(
            sku=sku,
            name=f"Part {sku}",
            description=f"Description of {sku}",
            category="parts",
            unit="unit",
            list_price=Money(Decimal(price), "USD"),
        )
        self.products[sku] = product
        self.stock[sku] = [WarehouseStock("WH", Decimal(stock))]
        return product

    async def _enter(self, operation: str) -> None:
        self.calls.append(operation)
        behaviour = self.behaviour.get(operation, Behaviour())
        if behaviour.delay:
            await asyncio.sleep(behaviour.delay)
        if behaviour.error is not None:
            raise behaviour.error

    async def search_products(
        self,
        *,
        text: str | None,
        category: str | None,
        after_sku: str | None,
        limit: int,
    ) -> ProductPage:
        await self._enter("search_products")
        matching = [
            product
            for sku, product in sorted(self.products.items())
            if (after_sku is None or sku > after_sku)
            and (text is None or text.lower() in product.name.lower())
            and (category is None or product.category == category)
        ]
        page = matching[:limit]
        more = len(matching) > limit
        return ProductPage(page, page[-1].sku if more and page else None)

    async def get_products(self, skus: Sequence[str]) -> list[Product]:
        await self._enter("get_products")
        return [self.products[sku] for sku in skus if sku in self.products]

    async def product_content(self, skus: Sequence[str]) -> list[Product]:
        await self._enter("product_content")
        return [self.products[sku] for sku in skus if sku in self.products]

    async def quote_prices(
        self, customer_ref: str | None, skus: Sequence[str], quantity: Decimal
    ) -> list[PriceQuote]:
        await self._enter("quote_prices")
        discount = self.customer_discounts.get(customer_ref or "", Decimal(0))
        quotes = []
        for sku in skus:
            product = self.products.get(sku)
            if product is None or product.list_price is None:
                continue
            price = product.list_price.amount * (1 - discount)
            quotes.append(
                PriceQuote(
                    sku=sku,
                    quantity=quantity,
                    unit_price=Money(price, product.list_price.currency),
                    basis="customer_price_list" if discount else "list_price",
                    as_of=datetime.now(UTC),
                )
            )
        return quotes

    async def stock_levels(self, skus: Sequence[str]) -> list[StockLevel]:
        await self._enter("stock_levels")
        now = datetime.now(UTC)
        return [
            StockLevel(sku=sku, warehouses=self.stock[sku], as_of=now)
            for sku in skus
            if sku in self.stock
        ]

    async def find_order(self, order_id: uuid.UUID) -> ErpOrderReceipt | None:
        await self._enter("find_order")
        for external_id, request in self.orders.items():
            if request.order_id == order_id:
                return ErpOrderReceipt(external_id, f"SO{external_id}")
        return None

    async def submit_order(self, request: ErpOrderRequest) -> ErpOrderReceipt:
        await self._enter("submit_order")
        unknown = [line.sku for line in request.lines if line.sku not in self.products]
        if unknown:
            raise BackendRejectedError("erp", "submit_order", f"unknown {unknown[0]}")
        external_id = str(len(self.orders) + 1)
        self.orders[external_id] = request
        self.move(external_id, ErpOrderState.ACCEPTED)
        return ErpOrderReceipt(external_id, f"SO{external_id}")

    async def cancel_order(self, external_id: str) -> None:
        await self._enter("cancel_order")
        self.move(external_id, ErpOrderState.CANCELLED)

    async def order_changes(self, cursor: str | None, limit: int) -> ErpChangePage:
        await self._enter("order_changes")
        start = int(cursor or 0)
        page = self.changes[start : start + limit]
        return ErpChangePage(tuple(page), str(start + len(page)))

    def move(self, external_id: str, state: ErpOrderState) -> None:
        """What the supplier's staff do in the ERP: the poller will see it."""
        request = self.orders[external_id]
        self.changes.append(
            ErpOrderChange(
                order_id=request.order_id,
                external_id=external_id,
                number=f"SO{external_id}",
                state=state,
                changed_at=datetime.now(UTC),
            )
        )
