"""External references: the same entity's id in each back-office system."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.tables.base import Base


class ExternalRefRow(Base):
    """Maps (entity kind, Portico id) to (system, external id), both ways.

    Unique both ways: one Portico entity has at most one id per system, and
    one system's id names at most one Portico entity of a kind.
    """

    __tablename__ = "external_refs"
    __table_args__ = (
        UniqueConstraint("entity_kind", "system", "external_id"),
        UniqueConstraint("entity_kind", "entity_id", "system"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    entity_kind: Mapped[str] = mapped_column(Text)
    entity_id: Mapped[uuid.UUID]
    system: Mapped[str] = mapped_column(Text)
    external_id: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
