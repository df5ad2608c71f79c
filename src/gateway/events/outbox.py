"""Writing events to the transactional outbox.

An event is added to the same session as the change it describes, so it is
committed with the change or not at all: nothing is announced that did not
happen, and nothing that happened goes unannounced.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.api.context import current_correlation_id
from gateway.db.tables import OutboxRow


def record_event(
    session: AsyncSession,
    *,
    event_type: str,
    account_id: uuid.UUID,
    subject: str,
    data: dict[str, Any],
) -> uuid.UUID:
    """Stage an event in ``session``; it is written when the session flushes."""
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
    return event_id
