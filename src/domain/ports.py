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

import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Protocol, runtime_checkable

from domain.catalog.model import PriceQuote, Product, ProductPage, StockLevel
from domain.customers import Customer
from domain.orders.erp import ErpChangePage, ErpOrderReceipt, ErpOrderRequest


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

    async def find_order(self, order_id: uuid.UUID) -> ErpOrderReceipt | None:
        """The ERP order whose reference is Portico's ``order_id``, if any."""
        ...

    async def submit_order(self, request: ErpOrderRequest) -> ErpOrderReceipt:
        """Create and confirm the order in the ERP.

        Not idempotent by itself: callers look the order up with
        :meth:`find_order` before submitting again after a failure. A business
        refusal (unknown customer, product not salable) is a
        BackendRejectedError whose detail is the ERP's reason.
        """
        ...

    async def cancel_order(self, external_id: str) -> None:
        """Cancel the order in the ERP; cancelling twice is not an error."""
        ...

    async def order_changes(self, cursor: str | None, limit: int) -> ErpChangePage:
        """Orders whose state changed after ``cursor``, oldest first."""
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
