"""The sequencer: gives committed events their place in commit order.

An outbox row's ``id`` is drawn when the row is inserted, so ids do not say in
which order transactions committed: a transaction holding row 101 can commit
after the one holding row 102. A reader that resumed "after id 102" would never
see 101 (case C15). The sequencer only ever sees committed rows; it numbers
them, in the order it finds them, with ``position``. Every reader (the changes
feed, the live stream, webhook fan-out and the Kafka relay) follows positions,
so a late commit simply gets a later position.

Runs in any worker replica; a transaction-level advisory lock lets only one
sequence at a time, so positions are handed out in one ascending order.
"""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.db.engine import transaction
from gateway.db.locks import advisory_lock_key
from gateway.db.tables import OutboxRow

#: Notified when new positions are committed: streams and relays wake up.
EVENTS_CHANNEL = "portico_events"
_LOCK = advisory_lock_key("portico.outbox.sequencer")


class Sequencer:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], batch: int = 1000
    ) -> None:
        self._sessions = sessions
        self._batch = batch

    async def run_once(self) -> int | None:
        """Sequence one batch; None if another replica is sequencing."""
        async with transaction(self._sessions) as session:
            if not await session.scalar(select(func.pg_try_advisory_xact_lock(_LOCK))):
                return None
            ids = list(
                await session.scalars(
                    select(OutboxRow.id)
                    .where(OutboxRow.position.is_(None))
                    .order_by(OutboxRow.id)
                    .limit(self._batch)
                )
            )
            if not ids:
                return 0
            # Draw all positions first, then hand them out by id: nextval in an
            # UPDATE would not promise to follow the id order.
            positions = sorted(
                await session.scalars(
                    text(
                        "SELECT nextval('outbox_position_seq') "
                        "FROM generate_series(1, :n)"
                    ),
                    {"n": len(ids)},
                )
            )
            await session.execute(
                text(
                    "UPDATE outbox SET position = numbered.position "
                    "FROM unnest(CAST(:ids AS bigint[]), CAST(:positions AS bigint[])) "
                    "AS numbered(id, position) WHERE outbox.id = numbered.id"
                ),
                {"ids": ids, "positions": positions},
            )
            await session.execute(
                select(func.pg_notify(EVENTS_CHANNEL, str(positions[-1])))
            )
        return len(ids)

    async def run_until_idle(self, max_rounds: int = 100) -> int:
        """Sequence everything visible now (tests and shutdown use it)."""
        total = 0
        for _ in range(max_rounds):
            done = await self.run_once()
            if not done:
                break
            total += done
        return total
