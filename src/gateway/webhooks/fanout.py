"""Fan-out: every committed event becomes one delivery per matching endpoint.

The fan-out reads the outbox by commit-order position, never by id, after a
cursor kept in PostgreSQL (``webhook_fanout_cursor``). The deliveries and the
cursor's advance are written in one transaction, so an event is queued once:
never skipped (a late commit gets a later position, case C15) and never
queued twice. Endpoints are matched as they are when the event is fanned out:
enabled, of the event's account, and with the event's type in their filter
(an empty filter takes every type).

Any number of worker replicas may run it; a transaction-level advisory lock
lets one at a time through, and the others return None.
"""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.db.engine import transaction
from gateway.db.locks import advisory_lock_key
from gateway.db.tables import OutboxRow, WebhookEndpointRow, WebhookFanoutCursorRow
from gateway.logs import get_logger
from gateway.webhooks.messages import (
    Message,
    accepts,
    event_message,
    queue_deliveries,
)
from gateway.webhooks.states import DeliveryOrigin

log = get_logger(__name__)

CURSOR_NAME = "webhooks"
_LOCK = advisory_lock_key("portico.webhooks.fanout")


async def fanout_position(session: AsyncSession) -> int:
    """The last outbox position already turned into deliveries."""
    position = await session.scalar(
        select(WebhookFanoutCursorRow.position).where(
            WebhookFanoutCursorRow.name == CURSOR_NAME
        )
    )
    return int(position or 0)


class WebhookFanout:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], batch: int = 1000
    ) -> None:
        self._sessions = sessions
        self._batch = batch

    async def run_once(self) -> int | None:
        """Fan out one batch of events; how many were read, or None if another
        replica holds the lock."""
        async with transaction(self._sessions) as session:
            if not await session.scalar(select(func.pg_try_advisory_xact_lock(_LOCK))):
                return None
            after = await fanout_position(session)
            events = list(
                await session.scalars(
                    select(OutboxRow)
                    .where(OutboxRow.position > after)
                    .order_by(OutboxRow.position)
                    .limit(self._batch)
                )
            )
            if not events:
                return 0
            endpoints = await self._endpoints_by_account(
                session, {event.account_id for event in events}
            )
            targets: list[tuple[Message, WebhookEndpointRow]] = []
            for event in events:
                matching = [
                    endpoint
                    for endpoint in endpoints.get(event.account_id, ())
                    if accepts(endpoint, event.type)
                ]
                if matching:
                    message = event_message(event)
                    targets.extend((message, endpoint) for endpoint in matching)
            await queue_deliveries(session, targets, DeliveryOrigin.EVENT)
            last = events[-1].position
            assert last is not None
            await session.execute(
                insert(WebhookFanoutCursorRow)
                .values(name=CURSOR_NAME, position=last)
                .on_conflict_do_update(
                    index_elements=["name"],
                    set_={"position": last, "updated_at": func.now()},
                )
            )
        if targets:
            log.info(
                "webhook.fanout.queued",
                events=len(events),
                deliveries=len(targets),
                position=last,
            )
        return len(events)

    async def run_until_idle(self, max_rounds: int = 100) -> int:
        """Fan out everything sequenced now (tests and shutdown use it)."""
        total = 0
        for _ in range(max_rounds):
            done = await self.run_once()
            if not done:
                break
            total += done
        return total

    @staticmethod
    async def _endpoints_by_account(
        session: AsyncSession, account_ids: set[uuid.UUID]
    ) -> dict[uuid.UUID, list[WebhookEndpointRow]]:
        rows = await session.scalars(
            select(WebhookEndpointRow)
            .where(
                WebhookEndpointRow.account_id.in_(account_ids),
                WebhookEndpointRow.enabled,
            )
            .order_by(WebhookEndpointRow.created_at, WebhookEndpointRow.id)
        )
        by_account: dict[uuid.UUID, list[WebhookEndpointRow]] = defaultdict(list)
        for row in rows:
            by_account[row.account_id].append(row)
        return by_account
