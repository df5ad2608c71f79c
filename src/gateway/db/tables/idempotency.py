"""Idempotency keys: a retried write replays its first answer."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.tables.base import Base


class IdempotencyKeyRow(Base):
    __tablename__ = "idempotency_keys"

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    #: Which operation the key was used for, so one key cannot cross routes.
    scope: Mapped[str] = mapped_column(Text)
    request_digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    #: Null while the first request is still in flight.
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime]
