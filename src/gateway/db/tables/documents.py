"""The documents index: the ERP's paperwork, one row per document."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CHAR,
    CheckConstraint,
    ForeignKey,
    Index,
    Numeric,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.tables.base import Base

DOCUMENT_TYPES = "'invoice', 'credit_note', 'delivery_note', 'quote'"
DOCUMENT_STATUSES = "'draft', 'issued', 'paid', 'cancelled'"


class DocumentRow(Base):
    """A document issued to an account, as the sync worker last saw it.

    ``(source_system, external_ref)`` names it in the system it came from;
    the sync upserts on it, so a document changed in the ERP stays one row.
    """

    __tablename__ = "documents"
    __table_args__ = (
        CheckConstraint(f"type IN ({DOCUMENT_TYPES})", name="type"),
        CheckConstraint(f"status IN ({DOCUMENT_STATUSES})", name="status"),
        CheckConstraint(
            "(amount IS NULL) = (currency IS NULL)", name="amount_has_currency"
        ),
        UniqueConstraint("source_system", "external_ref"),
        Index("ix_documents_account_issued", "account_id", "issue_date", "id"),
        Index("ix_documents_account_type", "account_id", "type"),
        Index("ix_documents_account_order", "account_id", "order_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE")
    )
    type: Mapped[str] = mapped_column(Text)
    number: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    issue_date: Mapped[date | None]
    due_date: Mapped[date | None]
    amount: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    currency: Mapped[str | None] = mapped_column(CHAR(3))
    order_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("orders.id", ondelete="SET NULL")
    )
    source_system: Mapped[str] = mapped_column(Text)
    external_ref: Mapped[str] = mapped_column(Text)
    #: When the source last changed the document: its version, and its ETag.
    source_changed_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
