"""The orders API's shapes."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from domain.orders.model import ChangeSource, Order
from domain.orders.status import OrderStatus
from gateway.api.types import FilterDate, MoneyModel, PlainText, Sku
from gateway.documents.schemas import DocumentRead


class OrderLineCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Sku
    quantity: Annotated[int, Field(gt=0, le=1_000_000, strict=True)] = Field(
        description="Whole pieces; fractions and zero are refused."
    )


class OrderCreate(BaseModel):
    """An order as a dealer places it. Prices are not sent: the ERP sets them."""

    model_config = ConfigDict(extra="forbid")

    lines: Annotated[list[OrderLineCreate], Field(min_length=1, max_length=200)]
    requested_date: FilterDate | None = Field(
        default=None, description="Requested delivery date, in the account's calendar."
    )
    customer_reference: Annotated[PlainText, Field(max_length=100)] | None = Field(
        default=None, description="The dealer's own purchase order number."
    )
    order_date: FilterDate | None = Field(
        default=None,
        description="The date on the dealer's own purchase order, in the "
        "account's calendar; today there when omitted, never later. Reports "
        "group and filter orders by it.",
    )


class OrderLineRead(BaseModel):
    line_no: int
    sku: str
    quantity: int
    unit_price: MoneyModel | None = Field(
        description="The ERP's list price per piece; null until it has "
        "priced the order."
    )
    net_unit_price: MoneyModel | None = Field(
        description="The price per piece after the discount the ERP confirmed; "
        "null while it has confirmed none."
    )
    tax_rate: Decimal = Field(
        description="The tax rate the ERP confirmed for the line, as a decimal "
        "string: 0.05 is 5 %."
    )
    line_total: MoneyModel | None = Field(
        description="Quantity times the net price (the list price while no "
        "discount is confirmed), before tax."
    )


class TimelineEntryRead(BaseModel):
    status: OrderStatus
    source: ChangeSource
    at: datetime
    note: str | None


class OrderRead(BaseModel):
    id: uuid.UUID
    status: OrderStatus
    priced: bool = Field(
        description="False while the order waits for the ERP to price it."
    )
    total: MoneyModel | None
    currency: str
    lines: list[OrderLineRead]
    requested_date: date | None
    order_date: date
    customer_reference: str | None
    erp_number: str | None = Field(description="The order's number in the ERP.")
    rejection_reason: str | None
    created_at: datetime
    timeline: list[TimelineEntryRead]


class OrderDetail(OrderRead):
    """An order with the ERP's paperwork that belongs to it."""

    documents: list[DocumentRead] = Field(
        description="Invoices, credit notes, delivery notes and quotations "
        "indexed for this order, oldest first."
    )


class OrderSummary(BaseModel):
    id: uuid.UUID
    status: OrderStatus
    total: MoneyModel | None
    currency: str
    line_count: int
    customer_reference: str | None
    erp_number: str | None
    created_at: datetime


class OrderPage(BaseModel):
    items: list[OrderSummary]
    next_cursor: str | None


def order_read(order: Order) -> OrderRead:
    total = order.total
    return OrderRead(
        id=order.id,
        status=order.status,
        priced=order.priced,
        total=None if total is None else MoneyModel.of(total),
        currency=order.currency,
        lines=[
            OrderLineRead(
                line_no=line.line_no,
                sku=line.sku,
                quantity=line.quantity,
                unit_price=None
                if line.unit_price is None
                else MoneyModel.of(line.unit_price),
                net_unit_price=None
                if line.net_unit_price is None
                else MoneyModel.of(line.net_unit_price),
                # normalize(): 0.050000 from NUMERIC(9, 6) reads as 0.05.
                tax_rate=line.tax_rate.normalize(),
                line_total=None if line.total is None else MoneyModel.of(line.total),
            )
            for line in order.lines
        ],
        requested_date=order.requested_date,
        order_date=order.order_date,
        customer_reference=order.customer_reference,
        erp_number=order.erp_number,
        rejection_reason=order.rejection_reason,
        created_at=order.created_at,
        timeline=[
            TimelineEntryRead(
                status=entry.status, source=entry.source, at=entry.at, note=entry.note
            )
            for entry in order.timeline
        ],
    )


def order_summary(order: Order) -> OrderSummary:
    total = order.total
    return OrderSummary(
        id=order.id,
        status=order.status,
        total=None if total is None else MoneyModel.of(total),
        currency=order.currency,
        line_count=len(order.lines),
        customer_reference=order.customer_reference,
        erp_number=order.erp_number,
        created_at=order.created_at,
    )
