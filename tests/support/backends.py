"""In-memory twins of the ports, for tests of the domain's own rules.

They keep products, prices and stock in dicts and can be told to be slow or to
fail per operation, so the fan-out's partial answers can be driven exactly.
Connector behaviour against real systems is tested elsewhere, on real peers.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from domain.backends import BackendError, BackendNotFoundError, BackendRejectedError
from domain.catalog.model import (
    PriceQuote,
    Product,
    ProductPage,
    StockLevel,
    WarehouseStock,
)
from domain.claims.erp import (
    ErpClaimChange,
    ErpClaimChangePage,
    ErpClaimMessage,
    ErpClaimReceipt,
    ErpClaimRequest,
    ErpClaimState,
)
from domain.documents.erp import (
    CustomerLedger,
    ErpDocument,
    ErpDocumentPage,
    LedgerEntry,
)
from domain.documents.model import DocumentContent
from domain.money import Money
from domain.orders.erp import (
    ErpChangePage,
    ErpLineTerms,
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
    #: Documents as the ERP reports them, oldest change first.
    documents: list[ErpDocument] = field(default_factory=list)
    #: Rendered files by external reference: (media type, file name, bytes).
    renderings: dict[str, tuple[str, str, bytes]] = field(default_factory=dict)
    #: External references whose rendering was opened and then closed.
    closed_renderings: list[str] = field(default_factory=list)
    #: Receivable postings per customer reference, any date.
    ledgers: dict[str, list[LedgerEntry]] = field(default_factory=dict)
    #: Delivered quantity per SKU, by ERP order id.
    deliveries: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    claims: dict[str, ErpClaimRequest] = field(default_factory=dict)
    claim_states: dict[str, ErpClaimState] = field(default_factory=dict)
    claim_changes_feed: list[ErpClaimChange] = field(default_factory=list)
    claim_messages: list[ErpClaimMessage] = field(default_factory=list)
    #: Messages Portico posted: (claim external id, author, body).
    posted_messages: list[tuple[str, str, str]] = field(default_factory=list)
    _message_ids: itertools.count[int] = field(
        default_factory=lambda: itertools.count(1)
    )

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

    def move(
        self,
        external_id: str,
        state: ErpOrderState,
        line_terms: tuple[ErpLineTerms, ...] = (),
    ) -> None:
        """What the supplier's staff do in the ERP: the poller will see it."""
        request = self.orders[external_id]
        self.changes.append(
            ErpOrderChange(
                order_id=request.order_id,
                external_id=external_id,
                number=f"SO{external_id}",
                state=state,
                changed_at=datetime.now(UTC),
                line_terms=line_terms,
            )
        )

    # ErpDocumentsPort

    async def document_changes(self, cursor: str | None, limit: int) -> ErpDocumentPage:
        await self._enter("document_changes")
        start = int(cursor or 0)
        page = self.documents[start : start + limit]
        return ErpDocumentPage(tuple(page), str(start + len(page)))

    async def open_document(self, external_ref: str) -> DocumentContent:
        await self._enter("open_document")
        if external_ref not in self.renderings:
            raise BackendNotFoundError("erp", "open_document", external_ref)
        media_type, filename, data = self.renderings[external_ref]

        async def chunks() -> AsyncIterator[bytes]:
            for offset in range(0, len(data), 1024):
                yield data[offset : offset + 1024]

        async def aclose() -> None:
            self.closed_renderings.append(external_ref)

        return DocumentContent(media_type, filename, len(data), chunks(), aclose)

    async def customer_ledger(
        self, customer_ref: str, start: date, end: date
    ) -> CustomerLedger:
        await self._enter("customer_ledger")
        entries = self.ledgers.get(customer_ref, [])
        opening = sum(
            (entry.debit - entry.credit for entry in entries if entry.date < start),
            Decimal(0),
        )
        return CustomerLedger(
            currency="USD",
            start=start,
            end=end,
            opening_balance=Money(opening, "USD"),
            entries=tuple(
                sorted(
                    (entry for entry in entries if start <= entry.date <= end),
                    key=lambda entry: entry.date,
                )
            ),
        )

    # ErpClaimsPort

    async def delivered_quantities(self, order_external_id: str) -> dict[str, Decimal]:
        await self._enter("delivered_quantities")
        return dict(self.deliveries.get(order_external_id, {}))

    async def find_claim(self, claim_id: uuid.UUID) -> ErpClaimReceipt | None:
        await self._enter("find_claim")
        for external_id, request in self.claims.items():
            if request.claim_id == claim_id:
                return ErpClaimReceipt(external_id, f"C{external_id}")
        return None

    async def submit_claim(self, request: ErpClaimRequest) -> ErpClaimReceipt:
        await self._enter("submit_claim")
        external_id = str(len(self.claims) + 1)
        self.claims[external_id] = request
        self.decide_claim(external_id, ErpClaimState.IN_REVIEW)
        return ErpClaimReceipt(external_id, f"C{external_id}")

    async def post_claim_message(self, external_id: str, author: str, body: str) -> str:
        await self._enter("post_claim_message")
        self.posted_messages.append((external_id, author, body))
        return f"m{next(self._message_ids)}"

    async def resume_claim(self, external_id: str) -> None:
        await self._enter("resume_claim")
        if self.claim_states[external_id] is ErpClaimState.RETURNED:
            self.decide_claim(external_id, ErpClaimState.IN_REVIEW)

    async def withdraw_claim(self, external_id: str) -> None:
        await self._enter("withdraw_claim")
        if self.claim_states[external_id] is not ErpClaimState.CANCELLED:
            self.decide_claim(external_id, ErpClaimState.CANCELLED)

    async def claim_changes(self, cursor: str | None, limit: int) -> ErpClaimChangePage:
        await self._enter("claim_changes")
        changes_at, messages_at = (int(part) for part in (cursor or "0;0").split(";"))
        changes = self.claim_changes_feed[changes_at : changes_at + limit]
        messages = self.claim_messages[messages_at : messages_at + limit]
        return ErpClaimChangePage(
            tuple(changes),
            tuple(messages),
            f"{changes_at + len(changes)};{messages_at + len(messages)}",
        )

    def decide_claim(self, external_id: str, state: ErpClaimState) -> None:
        """What the supplier's staff do with a claim: the poller will see it."""
        request = self.claims[external_id]
        self.claim_states[external_id] = state
        self.claim_changes_feed.append(
            ErpClaimChange(
                claim_id=request.claim_id,
                external_id=external_id,
                number=f"C{external_id}",
                state=state,
                changed_at=datetime.now(UTC),
            )
        )

    def write_to_customer(self, external_id: str, author: str, body: str) -> None:
        """A message the supplier's staff write on a claim."""
        self.claim_messages.append(
            ErpClaimMessage(
                external_id=external_id,
                message_ref=f"s{len(self.claim_messages) + 1}",
                author=author,
                body=body,
                written_at=datetime.now(UTC),
            )
        )
