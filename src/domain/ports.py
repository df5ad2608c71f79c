"""The ports: what Portico needs from each kind of back-office system.

A connector implements one or more of these. Each method promises:

- a total deadline: it returns or raises within the connector's configured
  deadline, however the backend behaves;
- only errors from :mod:`domain.backends`;
- idempotent reads, retried by the connector when a retry is safe.

Methods take and return the unified model's types; the connector translates
to and from its system's own words and identifiers.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Protocol, runtime_checkable

from domain.catalog.model import PriceQuote, Product, ProductPage, StockLevel
from domain.customers import Customer


@runtime_checkable
class ErpPort(Protocol):
    """The ERP: master data, the account's own prices and stock."""

    async def search_products(
        self,
        *,
        text: str | None,
        category: str | None,
        after_sku: str | None,
        limit: int,
    ) -> ProductPage:
        """Salable products ordered by SKU, starting after ``after_sku``."""
        ...

    async def get_products(self, skus: Sequence[str]) -> list[Product]:
        """The products among ``skus`` that exist; unknown SKUs are left out."""
        ...

    async def quote_prices(
        self,
        customer_ref: str | None,
        skus: Sequence[str],
        quantity: Decimal,
    ) -> list[PriceQuote]:
        """What the customer (ERP reference) pays per unit at ``quantity``.

        Without a customer reference, the list price applies.
        """
        ...

    async def stock_levels(self, skus: Sequence[str]) -> list[StockLevel]:
        """Stock per warehouse for the known SKUs among ``skus``."""
        ...


@runtime_checkable
class CmsPort(Protocol):
    """The content system: what a product is called and how it is described."""

    async def product_content(self, skus: Sequence[str]) -> list[Product]:
        """Content for the known SKUs among ``skus``."""
        ...


@runtime_checkable
class CrmPort(Protocol):
    """Customer records: who an account is in the back office."""

    async def find_customer(self, code: str) -> Customer | None:
        """The customer with this code in the system, if any."""
        ...
