"""Usage counters: one row per account and capability."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.tables.base import Base


class UsageCounterRow(Base):
    """How often, and when first and last, an account used a capability.

    Rows only grow: replicas add what they counted since their last flush.
    """

    __tablename__ = "usage_counters"
    __table_args__ = (
        CheckConstraint(
            "capability IN ('catalog', 'orders', 'documents', 'claims', "
            "'reports', 'webhooks', 'events')",
            name="capability",
        ),
        # "Has any account used X?" is one index probe per capability.
        Index("ix_usage_counters_capability", "capability"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    capability: Mapped[str] = mapped_column(Text, primary_key=True)
    requests: Mapped[int] = mapped_column(BigInteger)
    client_errors: Mapped[int] = mapped_column(BigInteger, server_default="0")
    server_errors: Mapped[int] = mapped_column(BigInteger, server_default="0")
    first_used_at: Mapped[datetime]
    last_used_at: Mapped[datetime]
