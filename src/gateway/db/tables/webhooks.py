"""Webhook endpoints, the messages sent to them, deliveries and attempts."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.tables.base import Base

DELIVERY_STATUSES = "'pending', 'delivered', 'failed'"


class WebhookEndpointRow(Base):
    """A dealer's URL and what to send it.

    ``secret`` is kept as issued: the dispatcher needs it to sign. It leaves
    the database only to sign and, once, in the answer that created it.
    """

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        Index("ix_webhook_endpoints_account", "account_id", "created_at", "id"),
        CheckConstraint("max_concurrency > 0", name="max_concurrency"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE")
    )
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    #: Empty: every type in the event catalog.
    event_types: Mapped[list[str]] = mapped_column(
        ARRAY(Text), server_default=text("'{}'::text[]")
    )
    enabled: Mapped[bool] = mapped_column(server_default=text("true"))
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    strict_ordering: Mapped[bool] = mapped_column(server_default=text("false"))
    max_concurrency: Mapped[int] = mapped_column(Integer)
    secret: Mapped[str] = mapped_column(Text)
    previous_secret: Mapped[str | None] = mapped_column(Text)
    previous_secret_expires_at: Mapped[datetime | None]
    #: When the current run of failed attempts began; null after a success.
    failing_since: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class WebhookMessageRow(Base):
    """The exact body sent for one event, fixed before its first attempt.

    Every delivery of the event (to each endpoint, each retry and each replay)
    sends these bytes with ``webhook-id`` = ``event_id`` (case C12).
    """

    __tablename__ = "webhook_messages"

    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE")
    )
    type: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class WebhookDeliveryRow(Base):
    """One message to one endpoint, until it is delivered or given up.

    A pending delivery is due at ``next_attempt_at``. A dispatcher leases it by
    setting ``lease_token`` and pushing ``next_attempt_at`` to the lease's end,
    so a delivery whose dispatcher died becomes due again by itself.
    ``seq`` is creation order: strict per-subject ordering follows it.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(f"status IN ({DELIVERY_STATUSES})", name="status"),
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where="status = 'pending'",
        ),
        Index(
            "ix_webhook_deliveries_pending_subject",
            "endpoint_id",
            "subject",
            "seq",
            postgresql_where="status = 'pending'",
        ),
        Index("ix_webhook_deliveries_account", "account_id", "seq"),
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "seq"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, Identity(), unique=True)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE")
    )
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_messages.event_id", ondelete="CASCADE")
    )
    event_type: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    #: Why the delivery exists: event, replay or test.
    origin: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="pending")
    attempt_count: Mapped[int] = mapped_column(Integer, server_default="0")
    #: ``attempt_count`` when the current retry budget began (a manual retry
    #: starts a new one).
    budget_start: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(server_default=func.now())
    lease_token: Mapped[uuid.UUID | None]
    leased_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class WebhookAttemptRow(Base):
    """One request to a receiver, or a lease that ran out without a result."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery", "delivery_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE")
    )
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    response_status: Mapped[int | None] = mapped_column(Integer)
    #: The start of the answer, up to the configured limit, as text.
    response_body: Mapped[str | None] = mapped_column(Text)
    #: Null when the receiver answered 2xx.
    error_class: Mapped[str | None] = mapped_column(Text)
    error_detail: Mapped[str | None] = mapped_column(Text)


class WebhookFanoutCursorRow(Base):
    """The last outbox position turned into deliveries."""

    __tablename__ = "webhook_fanout_cursor"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
