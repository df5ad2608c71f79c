"""Looking up and recording external references. Flushes; never commits."""

from __future__ import annotations

import enum
import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.tables import ExternalRefRow


class EntityKind(enum.StrEnum):
    ACCOUNT = "account"
    PRODUCT = "product"
    ORDER = "order"
    DOCUMENT = "document"
    CLAIM = "claim"


class ReferenceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def external_id(
        self, kind: EntityKind, entity_id: uuid.UUID, system: str
    ) -> str | None:
        """The id ``system`` gives this Portico entity, if it is known."""
        statement = select(ExternalRefRow.external_id).where(
            ExternalRefRow.entity_kind == kind.value,
            ExternalRefRow.entity_id == entity_id,
            ExternalRefRow.system == system,
        )
        found: str | None = await self._session.scalar(statement)
        return found

    async def entity_id(
        self, kind: EntityKind, system: str, external_id: str
    ) -> uuid.UUID | None:
        """The Portico entity that ``system`` calls ``external_id``, if any."""
        statement = select(ExternalRefRow.entity_id).where(
            ExternalRefRow.entity_kind == kind.value,
            ExternalRefRow.system == system,
            ExternalRefRow.external_id == external_id,
        )
        found: uuid.UUID | None = await self._session.scalar(statement)
        return found

    async def link(
        self, kind: EntityKind, entity_id: uuid.UUID, system: str, external_id: str
    ) -> None:
        """Record the mapping; recording the same mapping again changes nothing."""
        statement = (
            insert(ExternalRefRow)
            .values(
                id=uuid.uuid4(),
                entity_kind=kind.value,
                entity_id=entity_id,
                system=system,
                external_id=external_id,
            )
            .on_conflict_do_nothing()
        )
        await self._session.execute(statement)
