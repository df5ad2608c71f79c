"""Polling a back-office change stream from a cursor kept in PostgreSQL.

Every sync job (orders, documents, claims) reads "changes since my cursor"
from the ERP, applies them and stores the new cursor in one transaction: a
crash repeats a poll, it never skips one. A transaction-level advisory lock
per system and stream lets one worker replica poll it at a time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.db.engine import transaction
from gateway.db.locks import advisory_lock_key
from gateway.db.tables import SyncCursorRow


@dataclass(slots=True)
class PollRound:
    """One poll: its transaction, where the stream stood, where it goes next."""

    session: AsyncSession
    cursor: str | None
    next_cursor: str | None = None

    def advance(self, cursor: str) -> None:
        """Store ``cursor`` when the round commits (not calling it keeps the old)."""
        self.next_cursor = cursor


class ChangeStream:
    def __init__(self, system: str, stream: str) -> None:
        self.system = system
        self.stream = stream
        self._lock_key = advisory_lock_key(f"portico.sync.{system}.{stream}")

    @asynccontextmanager
    async def poll(
        self, sessions: async_sessionmaker[AsyncSession]
    ) -> AsyncIterator[PollRound | None]:
        """A round of polling, or None when another replica holds the stream."""
        async with transaction(sessions) as session:
            locked = await session.scalar(
                select(func.pg_try_advisory_xact_lock(self._lock_key))
            )
            if not locked:
                yield None
                return
            cursor = await session.scalar(
                select(SyncCursorRow.cursor).where(
                    SyncCursorRow.system == self.system,
                    SyncCursorRow.stream == self.stream,
                )
            )
            round_ = PollRound(session, cursor)
            yield round_
            if round_.next_cursor is not None:
                await session.execute(
                    insert(SyncCursorRow)
                    .values(
                        system=self.system,
                        stream=self.stream,
                        cursor=round_.next_cursor,
                    )
                    .on_conflict_do_update(
                        index_elements=["system", "stream"],
                        set_={"cursor": round_.next_cursor, "updated_at": func.now()},
                    )
                )
