"""Claims, their lines, timeline, comments, attachments and ERP tasks, and
the chunks of attachments kept in PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.tables.base import Base

CLAIM_TYPES = "'complaint', 'return', 'warranty'"
CLAIM_STATUSES = (
    "'submitted', 'in_review', 'awaiting_customer', 'approved', 'rejected', "
    "'resolved', 'closed', 'withdrawn'"
)
ERP_ACTIONS = "'submit', 'message', 'resume', 'withdraw'"


class ClaimRow(Base):
    __tablename__ = "claims"
    __table_args__ = (
        CheckConstraint(f"type IN ({CLAIM_TYPES})", name="type"),
        CheckConstraint(f"status IN ({CLAIM_STATUSES})", name="status"),
        Index("ix_claims_account_created", "account_id", "created_at", "id"),
        Index("ix_claims_account_status", "account_id", "status"),
        Index("ix_claims_order", "order_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE")
    )
    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE")
    )
    type: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    erp_system: Mapped[str | None] = mapped_column(Text)
    erp_number: Mapped[str | None] = mapped_column(Text)
    first_answer_due_at: Mapped[datetime]
    resolution_due_at: Mapped[datetime]
    first_answered_at: Mapped[datetime | None]
    settled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class ClaimLineRow(Base):
    __tablename__ = "claim_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity"),)

    claim_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("claims.id", ondelete="CASCADE"), primary_key=True
    )
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_line_no: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(Text)
    quantity: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)


class ClaimEventRow(Base):
    """One step of a claim's timeline."""

    __tablename__ = "claim_timeline"
    __table_args__ = (Index("ix_claim_timeline_claim", "claim_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    claim_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("claims.id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(server_default=func.now())


class ClaimCommentRow(Base):
    """A comment; ``external_ref`` is its id in the ERP, once it has one."""

    __tablename__ = "claim_comments"
    __table_args__ = (
        CheckConstraint("side IN ('account', 'supplier')", name="side"),
        UniqueConstraint("claim_id", "external_ref"),
        Index("ix_claim_comments_claim", "claim_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    claim_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("claims.id", ondelete="CASCADE")
    )
    side: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    external_ref: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class ClaimAttachmentRow(Base):
    """A file on a claim; its bytes live in the attachment store at
    ``storage_key``."""

    __tablename__ = "claim_attachments"
    __table_args__ = (Index("ix_claim_attachments_claim", "claim_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    claim_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("claims.id", ondelete="CASCADE")
    )
    filename: Mapped[str] = mapped_column(Text)
    media_type: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(Text)
    storage_key: Mapped[str] = mapped_column(Text, unique=True)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class ClaimErpTaskRow(Base):
    """Something to tell the ERP about a claim, done in order per claim.

    Due at ``next_attempt_at``; a worker leases it by pushing that time to
    the lease's end, so a task whose worker died becomes due again.
    """

    __tablename__ = "claim_erp_tasks"
    __table_args__ = (
        CheckConstraint(f"action IN ({ERP_ACTIONS})", name="action"),
        Index("ix_claim_erp_tasks_due", "next_attempt_at"),
        Index("ix_claim_erp_tasks_claim", "claim_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    claim_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("claims.id", ondelete="CASCADE")
    )
    action: Mapped[str] = mapped_column(Text)
    comment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("claim_comments.id", ondelete="CASCADE")
    )
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=func.now())
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class AttachmentChunkRow(Base):
    """One chunk of an object in the PostgreSQL attachment store."""

    __tablename__ = "attachment_chunks"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
