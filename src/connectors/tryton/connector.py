"""Tryton as Portico's ERP, content source and customer register.

Implements :class:`~domain.ports.ErpPort`, :class:`~domain.ports.CmsPort` and
:class:`~domain.ports.CrmPort` over Tryton's JSON-RPC. Every call runs under
the connector's :class:`~connectors.runtime.ConnectorCalls` policy; reads are
idempotent and retried on transient failures. Tryton's own errors become the
domain's backend errors: a refused business rule is a permanent rejection, a
locked database or a dropped connection is transient.

How Tryton's words map to Portico's:

- SKU: ``product.product.code``; only salable, active products are listed.
- Price: ``product.product.sale_price_uom`` computed in a context naming the
  customer (``party.party`` id), its sale price list when it has one, and the
  quantity: Tryton applies the customer's own list, else the list price.
- Stock: ``product.product.quantity`` per warehouse (``stock.location`` of
  type ``warehouse``), read with that warehouse as the only location.
- Customer: ``party.party``; its ``code`` is what accounts are linked by.
- Orders: ``sale.sale``, with Portico's order id as the sale's reference;
  see :mod:`connectors.tryton.orders` for the states and the change feed.
  Submitting is the one call that is never retried here.
- Documents and the customer's ledger (:class:`~domain.ports.ErpDocumentsPort`):
  see :mod:`connectors.tryton.documents`.
- Claims (:class:`~domain.ports.ErpClaimsPort`): ``sale.complaint``; see
  :mod:`connectors.tryton.claims`. Submitting is never retried here either.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import httpx
from pydantic import Field, SecretStr

from connectors.runtime import Connector, ConnectorCalls, ConnectorConfig
from connectors.runtime.http import build_http_client
from connectors.tryton.claims import TrytonClaims
from connectors.tryton.documents import TrytonDocuments
from connectors.tryton.orders import TrytonOrders
from connectors.tryton.rpc import (
    TrytonError,
    TrytonLoginError,
    TrytonProtocolError,
    TrytonRpc,
    TrytonUserError,
)
from domain.backends import (
    BackendError,
    BackendProtocolError,
    BackendRejectedError,
    BackendUnavailableError,
)
from domain.catalog.model import (
    PriceQuote,
    Product,
    ProductPage,
    StockLevel,
    WarehouseStock,
)
from domain.claims.erp import ErpClaimChangePage, ErpClaimReceipt, ErpClaimRequest
from domain.customers import Customer
from domain.documents.erp import CustomerLedger, ErpDocumentPage
from domain.documents.model import DocumentContent
from domain.money import Money
from domain.orders.erp import ErpChangePage, ErpOrderReceipt, ErpOrderRequest

T = TypeVar("T")

_PRODUCT_FIELDS = [
    "code",
    "name",
    "description",
    "list_price",
    "default_uom",
    # Tryton answers a dotted name under "categories_all." with the records.
    "categories_all.name",
]
#: Tryton stores SKUs as free text; cap what a search may send it.
_MAX_TEXT = 100


class TrytonConfig(ConnectorConfig):
    database: str = Field(description="The Tryton database name.")
    username: str = Field(description="Login of the Tryton user Portico acts as.")
    password: SecretStr = Field(description="That user's password.")
    currency: str = Field(
        default="USD", description="ISO 4217 code of the company's currency."
    )
    complaint_type_id: int | None = Field(
        default=None,
        description="The sale.complaint.type claims are filed under; unset: the "
        "first active type whose origin is a sale.",
    )


class TrytonConnector(Connector):
    """One Tryton database, reached over JSON-RPC."""

    config_model = TrytonConfig

    def __init__(self, name: str, config: ConnectorConfig) -> None:
        if not isinstance(config, TrytonConfig):
            raise TypeError("TrytonConnector needs a TrytonConfig")
        super().__init__(name, config)
        self._config = config
        self._http = build_http_client(config)
        self._rpc = TrytonRpc(
            self._http,
            config.database,
            config.username,
            config.password.get_secret_value(),
        )
        self._calls = ConnectorCalls(name, config)
        self._units: dict[int, str] = {}
        self._warehouses: list[tuple[int, str]] | None = None
        self._price_lists: dict[int, int | None] = {}
        self._orders = TrytonOrders(self._rpc, name)
        self._documents = TrytonDocuments(self._rpc, self._http, name)
        self._claims = TrytonClaims(self._rpc, name, config.complaint_type_id)

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def calls(self) -> ConnectorCalls:
        return self._calls

    # ErpPort

    async def search_products(
        self,
        *,
        text: str | None,
        category: str | None,
        after_sku: str | None,
        limit: int,
    ) -> ProductPage:
        domain: list[Any] = [("salable", "=", True), ("code", "!=", None)]
        if after_sku is not None:
            domain.append(("code", ">", after_sku))
        if text:
            pattern = f"%{_escape_like(text[:_MAX_TEXT])}%"
            domain.append(
                ["OR", ("name", "ilike", pattern), ("code", "ilike", pattern)]
            )
        if category:
            domain.append(("categories_all.name", "=", category[:_MAX_TEXT]))
        rows = await self._read(
            "search_products",
            lambda: self._rpc.model(
                "product.product",
                "search_read",
                domain,
                0,
                limit + 1,
                [["code", "ASC"]],
                _PRODUCT_FIELDS,
            ),
        )
        products = [await self._product(row) for row in rows[:limit]]
        more = len(rows) > limit
        return ProductPage(products, products[-1].sku if more and products else None)

    async def get_products(self, skus: Sequence[str]) -> list[Product]:
        if not skus:
            return []
        rows = await self._read(
            "get_products",
            lambda: self._rpc.model(
                "product.product",
                "search_read",
                [("code", "in", list(skus))],
                0,
                None,
                None,
                _PRODUCT_FIELDS,
            ),
        )
        return [await self._product(row) for row in rows]

    async def quote_prices(
        self, customer_ref: str | None, skus: Sequence[str], quantity: Decimal
    ) -> list[PriceQuote]:
        if not skus:
            return []
        extra: dict[str, Any] = {"quantity": float(quantity)}
        basis = "list_price"
        if customer_ref is not None:
            party_id = _as_id(customer_ref, self.name)
            extra["customer"] = party_id
            price_list = await self._party_price_list(party_id)
            if price_list is not None:
                extra["price_list"] = price_list
                basis = "customer_price_list"
        rows = await self._read(
            "quote_prices",
            lambda: self._model_with(
                extra,
                "product.product",
                "search_read",
                [("code", "in", list(skus))],
                0,
                None,
                None,
                ["code", "sale_price_uom"],
            ),
        )
        now = datetime.now(UTC)
        return [
            PriceQuote(
                sku=row["code"],
                quantity=quantity,
                unit_price=Money(
                    _decimal(row["sale_price_uom"]), self._config.currency
                ),
                basis=basis,
                as_of=now,
            )
            for row in rows
            if row.get("sale_price_uom") is not None
        ]

    async def stock_levels(self, skus: Sequence[str]) -> list[StockLevel]:
        if not skus:
            return []
        warehouses = await self._warehouse_list()
        per_warehouse = await asyncio.gather(
            *(self._stock_in(warehouse_id, skus) for warehouse_id, _ in warehouses)
        )
        now = datetime.now(UTC)
        levels: dict[str, list[WarehouseStock]] = {}
        for (_, warehouse_name), quantities in zip(
            warehouses, per_warehouse, strict=True
        ):
            for sku, quantity in quantities.items():
                levels.setdefault(sku, []).append(
                    WarehouseStock(warehouse_name, quantity)
                )
        return [
            StockLevel(sku=sku, warehouses=stock, as_of=now)
            for sku, stock in sorted(levels.items())
        ]

    async def find_order(self, order_id: uuid.UUID) -> ErpOrderReceipt | None:
        """The confirmed (or later) sale whose reference is ``order_id``.

        A sale an interrupted submission left in draft or quotation is not
        an order yet and is not found; :meth:`submit_order` finishes it.
        """
        return await self._read("find_order", lambda: self._orders.find(order_id))

    async def submit_order(self, request: ErpOrderRequest) -> ErpOrderReceipt:
        """Create, quote and confirm a sale; returns its id and number.

        Runs once, never retried here: look the order up with
        :meth:`find_order` before submitting again after a failure. A sale
        already made for this order id is returned instead of a second one.
        Unknown customers, SKUs or currencies and Tryton's refusals are
        BackendRejectedError with the reason as detail; a refused sale is
        removed from Tryton.
        """
        return await self._call(
            "submit_order", lambda: self._orders.submit(request), idempotent=False
        )

    async def cancel_order(self, external_id: str) -> None:
        """Cancel the sale; Tryton refuses once it is processing.

        Cancelling a cancelled sale succeeds. A refusal is
        BackendRejectedError naming the sale's state and Tryton's reason; an
        unknown sale is BackendNotFoundError. Retried like a read: it reads
        the state first, so a repeat finds the sale cancelled.
        """
        await self._call(
            "cancel_order", lambda: self._orders.cancel(external_id), idempotent=True
        )

    async def order_changes(self, cursor: str | None, limit: int) -> ErpChangePage:
        """Sales whose order state may have changed after ``cursor``.

        Oldest first, ``limit`` records at most (see
        :mod:`connectors.tryton.orders` for the one exception); the returned
        cursor resumes after the last change. A change's state is the sale's
        state now, its time that of the write that put it in the feed.
        """
        return await self._read(
            "order_changes", lambda: self._orders.changes(cursor, limit)
        )

    # ErpDocumentsPort

    async def document_changes(self, cursor: str | None, limit: int) -> ErpDocumentPage:
        """Invoices, credit notes, delivery notes and quotations changed
        after ``cursor``; see :mod:`connectors.tryton.documents`."""
        return await self._read(
            "document_changes", lambda: self._documents.changes(cursor, limit)
        )

    async def open_document(self, external_ref: str) -> DocumentContent:
        """Tryton's rendering of the document, streamed as it arrives."""
        return await self._read(
            "open_document", lambda: self._documents.open(external_ref)
        )

    async def customer_ledger(
        self, customer_ref: str, start: date, end: date
    ) -> CustomerLedger:
        return await self._read(
            "customer_ledger", lambda: self._documents.ledger(customer_ref, start, end)
        )

    # ErpClaimsPort

    async def delivered_quantities(self, order_external_id: str) -> dict[str, Decimal]:
        return await self._read(
            "delivered_quantities", lambda: self._claims.delivered(order_external_id)
        )

    async def find_claim(self, claim_id: uuid.UUID) -> ErpClaimReceipt | None:
        return await self._read("find_claim", lambda: self._claims.find(claim_id))

    async def submit_claim(self, request: ErpClaimRequest) -> ErpClaimReceipt:
        """Open and submit the complaint; never retried here (see
        :meth:`find_claim`)."""
        return await self._call(
            "submit_claim", lambda: self._claims.submit(request), idempotent=False
        )

    async def post_claim_message(self, external_id: str, author: str, body: str) -> str:
        """Post on the complaint's chat; not retried (a repeat would post twice)."""
        return await self._call(
            "post_claim_message",
            lambda: self._claims.post_message(external_id, author, body),
            idempotent=False,
        )

    async def resume_claim(self, external_id: str) -> None:
        await self._call(
            "resume_claim", lambda: self._claims.resume(external_id), idempotent=True
        )

    async def withdraw_claim(self, external_id: str) -> None:
        await self._call(
            "withdraw_claim",
            lambda: self._claims.withdraw(external_id),
            idempotent=True,
        )

    async def claim_changes(self, cursor: str | None, limit: int) -> ErpClaimChangePage:
        return await self._read(
            "claim_changes", lambda: self._claims.changes(cursor, limit)
        )

    # CmsPort

    async def product_content(self, skus: Sequence[str]) -> list[Product]:
        return await self.get_products(skus)

    # CrmPort

    async def find_customer(self, code: str) -> Customer | None:
        rows = await self._read(
            "find_customer",
            lambda: self._rpc.model(
                "party.party",
                "search_read",
                [("code", "=", code)],
                0,
                1,
                None,
                ["code", "name"],
            ),
        )
        if not rows:
            return None
        row = rows[0]
        return Customer(ref=str(row["id"]), code=row["code"], name=row["name"])

    # Internals

    async def _read(self, operation: str, call: Callable[[], Awaitable[T]]) -> T:
        return await self._call(operation, call, idempotent=True)

    async def _call(
        self,
        operation: str,
        call: Callable[[], Awaitable[T]],
        *,
        idempotent: bool,
    ) -> T:
        """Run ``call`` under the call policy, with Tryton's errors translated.

        Only ``idempotent`` calls are retried. Backend errors the call raises
        itself pass through unchanged.
        """

        async def translated() -> T:
            try:
                return await call()
            except TrytonError as error:
                raise _backend_error(self.name, operation, error) from None
            except httpx.HTTPError as error:
                raise BackendUnavailableError(
                    self.name, operation, type(error).__name__
                ) from None

        return await self._calls.run(operation, translated, idempotent=idempotent)

    async def _model_with(
        self, extra: dict[str, Any], model: str, method: str, *args: Any
    ) -> Any:
        context = {**await self._rpc.context(), **extra}
        return await self._rpc.call(f"model.{model}.{method}", [*args, context])

    async def _stock_in(
        self, warehouse_id: int, skus: Sequence[str]
    ) -> dict[str, Decimal]:
        rows = await self._read(
            "stock_levels",
            lambda: self._model_with(
                {"locations": [warehouse_id], "with_childs": True},
                "product.product",
                "search_read",
                [("code", "in", list(skus))],
                0,
                None,
                None,
                ["code", "quantity"],
            ),
        )
        return {row["code"]: _decimal(row["quantity"]) for row in rows}

    async def _warehouse_list(self) -> list[tuple[int, str]]:
        if self._warehouses is None:
            rows = await self._read(
                "warehouses",
                lambda: self._rpc.model(
                    "stock.location",
                    "search_read",
                    [("type", "=", "warehouse")],
                    0,
                    None,
                    [["id", "ASC"]],
                    ["name", "code"],
                ),
            )
            self._warehouses = [
                (row["id"], row.get("code") or row["name"]) for row in rows
            ]
        return self._warehouses

    async def _party_price_list(self, party_id: int) -> int | None:
        if party_id not in self._price_lists:
            rows = await self._read(
                "customer_price_list",
                lambda: self._rpc.model(
                    "party.party", "read", [party_id], ["sale_price_list"]
                ),
            )
            if not rows:
                raise BackendRejectedError(
                    self.name, "quote_prices", f"no party {party_id}"
                )
            self._price_lists[party_id] = rows[0].get("sale_price_list")
        return self._price_lists[party_id]

    async def _unit(self, uom_id: int | None) -> str:
        if uom_id is None:
            return "unit"
        if uom_id not in self._units:
            rows = await self._read(
                "units",
                lambda: self._rpc.model("product.uom", "read", [uom_id], ["symbol"]),
            )
            self._units[uom_id] = rows[0]["symbol"] if rows else "unit"
        return self._units[uom_id]

    async def _product(self, row: dict[str, Any]) -> Product:
        list_price = row.get("list_price")
        categories = sorted(
            category["name"] for category in row.get("categories_all.") or []
        )
        return Product(
            sku=row["code"],
            name=row["name"],
            description=row.get("description") or "",
            category=categories[0] if categories else None,
            unit=await self._unit(row.get("default_uom")),
            list_price=None
            if list_price is None
            else Money(_decimal(list_price), self._config.currency),
        )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | float):
        return Decimal(str(value))
    raise TypeError(f"expected a number, got {type(value).__name__}")


def _as_id(reference: str, system: str) -> int:
    if not reference.isdigit():
        raise BackendRejectedError(
            system, "quote_prices", "customer reference is not a Tryton id"
        )
    return int(reference)


def _backend_error(system: str, operation: str, error: TrytonError) -> BackendError:
    detail = type(error).__name__
    if isinstance(error, TrytonUserError | TrytonLoginError):
        return BackendRejectedError(system, operation, detail)
    if isinstance(error, TrytonProtocolError):
        return BackendProtocolError(system, operation, detail)
    if error.transient:
        return BackendUnavailableError(system, operation, detail)
    return BackendProtocolError(system, operation, detail)
