"""Writing events to the transactional outbox.

An event is added to the same session as the change it describes, so it is
committed with the change or not at all: nothing is announced that did not
happen, and nothing that happened goes unannounced.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.api.context import current_correlation_id
from gateway.db.tables import OutboxRow
from gateway.events.catalog import EVENT_TYPES

#: Notified in the writing transaction, so delivered exactly when it commits.
OUTBOX_CHANNEL = "portico_outbox"


async def record_event(
    session: AsyncSession,
    *,
    event_type: str,
    account_id: uuid.UUID,
    subject: str,
    data: dict[str, Any],
) -> uuid.UUID:
    """Add an event to ``session``'s transaction and wake the sequencer on commit.

    Only types in the event catalog may be written: what is emitted is what
    ``openapi/asyncapi.yaml`` documents.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"{event_type!r} is not in the event catalog")
    event_id = uuid.uuid4()
    session.add(
        OutboxRow(
            event_id=event_id,
            type=event_type,
            account_id=account_id,
            subject=subject,
            data=data,
            correlation_id=current_correlation_id() or None,
        )
    )
    await session.execute(select(func.pg_notify(OUTBOX_CHANNEL, "")))
    return event_id
