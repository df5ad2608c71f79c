"""Exactly-once effects for Portico's own event consumers.

Kafka and webhooks deliver at least once. A consumer that records the event
id in the same transaction as its effect turns that into "effect once": the
second delivery finds the id and changes nothing.

    async with transaction(sessions) as session:
        if await first_delivery(session, "invoice-mailer", event_id):
            await send_invoice_mail(session, ...)
"""

from __future__ import annotations

import uuid

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.tables import ProcessedEventRow


async def first_delivery(
    session: AsyncSession, consumer: str, event_id: uuid.UUID
) -> bool:
    """Record ``event_id`` for ``consumer``; True only the first time.

    Must run in the transaction that applies the event's effect, so the record
    and the effect commit (or roll back) together.
    """
    recorded = await session.scalar(
        insert(ProcessedEventRow)
        .values(consumer=consumer, event_id=event_id)
        .on_conflict_do_nothing()
        .returning(ProcessedEventRow.event_id)
    )
    return recorded is not None
