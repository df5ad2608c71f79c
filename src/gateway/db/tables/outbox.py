"""The transactional outbox: events written in the same transaction as the
change they describe, for relays and feeds to read after commit."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Sequence, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.tables.base import Base

#: Hands out commit-order positions; only the sequencer draws from it.
OUTBOX_POSITION = Sequence("outbox_position_seq", metadata=Base.metadata)


class OutboxRow(Base):
    """One event. ``id`` is insertion order; ``position`` is commit order.

    ``id`` comes from a sequence when the row is inserted, so a transaction
    that commits late can leave a lower id behind a higher one already seen.
    ``position`` is given by the sequencer to rows once they are committed and
    visible, in the order it sees them: a reader that resumes after a position
    never misses a row that committed late (case C15).
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_account_position", "account_id", "position"),
        Index("ix_outbox_unsequenced", "id", postgresql_where="position IS NULL"),
        Index(
            "ix_outbox_unpublished",
            "position",
            postgresql_where="position IS NOT NULL AND published_at IS NULL",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    position: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    published_at: Mapped[datetime | None]
    event_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    type: Mapped[str] = mapped_column(Text)
    account_id: Mapped[uuid.UUID]
    subject: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    correlation_id: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(server_default=func.now())


class SyncCursorRow(Base):
    """Where a poller left off in one system's change stream."""

    __tablename__ = "sync_cursors"

    system: Mapped[str] = mapped_column(Text, primary_key=True)
    stream: Mapped[str] = mapped_column(Text, primary_key=True)
    cursor: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(
        server_default=func.now(), onupdate=func.now()
    )


class ProcessedEventRow(Base):
    """Events a Portico consumer has applied, recorded with the effect itself."""

    __tablename__ = "processed_events"

    consumer: Mapped[str] = mapped_column(Text, primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(server_default=func.now())
