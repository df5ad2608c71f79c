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
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol, runtime_checkable

from domain.catalog.model import PriceQuote, Product, ProductPage, StockLevel
from domain.claims.erp import ErpClaimChangePage, ErpClaimReceipt, ErpClaimRequest
from domain.customers import Customer
from domain.documents.erp import CustomerLedger, ErpDocumentPage
from domain.documents.model import DocumentContent
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


@runtime_checkable
class ErpDocumentsPort(Protocol):
    """The ERP's paperwork: the documents it issues and the customer's ledger.

    Offered by ERP connectors that can; the gateway checks with
    ``isinstance`` before it indexes documents or builds statements.
    """

    async def document_changes(self, cursor: str | None, limit: int) -> ErpDocumentPage:
        """Customer documents created or changed after ``cursor``, oldest
        first, at most ``limit`` (invoices, credit notes, delivery notes,
        quotations)."""
        ...

    async def open_document(self, external_ref: str) -> DocumentContent:
        """Start rendering the document ``external_ref`` and stream it.

        The deadline covers the answer's start; the body then streams, each
        chunk within the connector's read timeout. The caller must call
        ``aclose`` on the result. An unknown reference is
        BackendNotFoundError.
        """
        ...

    async def customer_ledger(
        self, customer_ref: str, start: date, end: date
    ) -> CustomerLedger:
        """The customer's receivable account from ``start`` to ``end``
        inclusive: opening balance and every posted entry, classified."""
        ...


@runtime_checkable
class ErpClaimsPort(Protocol):
    """The ERP's claim desk: where the supplier's staff decide claims."""

    async def delivered_quantities(self, order_external_id: str) -> dict[str, Decimal]:
        """Quantity delivered to the customer per SKU of the order, returns
        deducted; SKUs with nothing delivered are left out."""
        ...

    async def find_claim(self, claim_id: uuid.UUID) -> ErpClaimReceipt | None:
        """The ERP claim whose reference is Portico's ``claim_id``, if any."""
        ...

    async def submit_claim(self, request: ErpClaimRequest) -> ErpClaimReceipt:
        """Open the claim in the ERP and put it up for review.

        Not retried by the connector: callers look it up with
        :meth:`find_claim` before submitting again after a failure.
        """
        ...

    async def post_claim_message(self, external_id: str, author: str, body: str) -> str:
        """Add the customer's message to the claim; returns the message's id,
        which :meth:`claim_changes` never reports back as the supplier's."""
        ...

    async def resume_claim(self, external_id: str) -> None:
        """Put a claim sent back to the customer up for review again.
        Resuming a claim under review is not an error."""
        ...

    async def withdraw_claim(self, external_id: str) -> None:
        """Cancel the claim in the ERP; withdrawing twice is not an error."""
        ...

    async def claim_changes(self, cursor: str | None, limit: int) -> ErpClaimChangePage:
        """Claim decisions and supplier messages after ``cursor``, oldest
        first, at most ``limit`` of each."""
        ...


@dataclass(frozen=True, slots=True)
class StoredObject:
    """What a store kept: the byte count and the SHA-256 of the bytes."""

    size: int
    sha256: str


@runtime_checkable
class AttachmentStorePort(Protocol):
    """Where claim attachments live, written and read as streams.

    Keys are chosen by the caller and never reused. Neither direction holds
    a whole object in memory.
    """

    async def put(self, key: str, chunks: AsyncIterator[bytes]) -> StoredObject:
        """Store the bytes ``chunks`` yields under ``key``.

        An exception from ``chunks`` (a size limit, a client that went away)
        propagates after whatever was written is removed again.
        """
        ...

    def get(self, key: str) -> AsyncIterator[bytes]:
        """The object's bytes in order. An unknown key raises KeyError on
        the first iteration."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; removing an unknown key is not an error."""
        ...
