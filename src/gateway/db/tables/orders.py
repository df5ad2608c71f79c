"""Orders, their lines and their status timeline."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.tables.base import Base

ORDER_STATUSES = (
    "'pending_approval', 'submitted', 'accepted', 'rejected', 'in_fulfilment', "
    "'shipped', 'delivered', 'invoiced', 'cancelled'"
)


class OrderRow(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(f"status IN ({ORDER_STATUSES})", name="status"),
        Index("ix_orders_account_created", "account_id", "created_at", "id"),
        Index("ix_orders_account_status", "account_id", "status"),
        Index("ix_orders_account_order_date", "account_id", "order_date"),
        Index(
            "ix_orders_submission_due",
            "next_attempt_at",
            postgresql_where="status = 'submitted'",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(Text)
    currency: Mapped[str] = mapped_column(Text)
    #: Null while the ERP has not priced the order (placed while it was down).
    total: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    #: The customer's own order date (its purchase order's date), in the
    #: account's calendar; reports group and filter by it.
    order_date: Mapped[date]
    requested_date: Mapped[date | None]
    customer_reference: Mapped[str | None] = mapped_column(Text)
    erp_system: Mapped[str | None] = mapped_column(Text)
    erp_number: Mapped[str | None] = mapped_column(Text)
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    reordered_from: Mapped[uuid.UUID | None]
    submit_attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class OrderLineRow(Base):
    __tablename__ = "order_lines"

    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True
    )
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(Text)
    quantity: Mapped[int] = mapped_column(Integer)
    #: The list price the ERP quoted at placement (gross, before discount).
    unit_price: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    #: The price per piece the ERP confirmed after its discount; null while
    #: the ERP has confirmed none, which means no discount.
    net_unit_price: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    #: The tax rate the ERP confirmed for the line (0.05 is 5 %).
    tax_rate: Mapped[Decimal] = mapped_column(Numeric(9, 6), server_default="0")


class OrderEventRow(Base):
    """One step of an order's timeline: a status it reached, who moved it, when."""

    __tablename__ = "order_timeline"
    __table_args__ = (Index("ix_order_timeline_order", "order_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(server_default=func.now())
