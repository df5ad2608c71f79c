"""What Portico tells the ERP about an order, and what the ERP tells back."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from domain.money import Money


@dataclass(frozen=True, slots=True)
class ErpOrderLine:
    sku: str
    quantity: Decimal
    unit_price: Money


@dataclass(frozen=True, slots=True)
class ErpOrderRequest:
    """An order to create in the ERP.

    ``order_id`` is Portico's id; it travels as the ERP document's reference
    so that a retry after a timeout finds the first attempt instead of
    creating a second order.
    """

    order_id: uuid.UUID
    customer_ref: str
    lines: tuple[ErpOrderLine, ...]
    currency: str
    requested_date: date | None
    customer_reference: str | None


@dataclass(frozen=True, slots=True)
class ErpOrderReceipt:
    """The ERP's record of an order: its own id and its document number."""

    external_id: str
    number: str


class ErpOrderState(enum.StrEnum):
    """Order states as an ERP reports them, in Portico's words."""

    ACCEPTED = "accepted"
    IN_FULFILMENT = "in_fulfilment"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    INVOICED = "invoiced"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class ErpLineTerms:
    """What the ERP finally charged for one order line, once it invoiced it.

    ``line_no`` is the line's 1-based position in the order as submitted.
    ``net_unit_price`` is the price per piece after any discount the
    supplier granted, in the order's currency; ``tax_rate`` is the sum of the
    line's percentage taxes (0.05 is 5 %).
    """

    line_no: int
    net_unit_price: Decimal
    tax_rate: Decimal


@dataclass(frozen=True, slots=True)
class ErpOrderChange:
    """One order's state in the ERP as of ``changed_at``.

    ``order_id`` is Portico's id read back from the ERP's reference field;
    None for orders the ERP has that did not come through Portico.
    ``line_terms`` holds the invoiced terms of the lines the ERP has
    invoiced so far (empty before any invoice is posted).
    """

    order_id: uuid.UUID | None
    external_id: str
    number: str
    state: ErpOrderState
    changed_at: datetime
    detail: str | None = None
    line_terms: tuple[ErpLineTerms, ...] = ()


@dataclass(frozen=True, slots=True)
class ErpChangePage:
    """Changes after a cursor, oldest first, and the cursor to store next.

    The cursor is opaque to Portico; passing it back returns only changes made
    after the last one in this page. An empty page returns the cursor it was
    given (or a starting one).
    """

    changes: tuple[ErpOrderChange, ...]
    cursor: str
