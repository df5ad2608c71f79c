"""Reading an account's events in commit order."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.tables import OutboxRow


async def events_after(
    session: AsyncSession,
    account_id: uuid.UUID,
    after: int,
    types: frozenset[str],
    limit: int,
) -> list[OutboxRow]:
    statement = (
        select(OutboxRow)
        .where(
            OutboxRow.account_id == account_id,
            OutboxRow.position.is_not(None),
            OutboxRow.position > after,
        )
        .order_by(OutboxRow.position)
        .limit(limit)
    )
    if types:
        statement = statement.where(OutboxRow.type.in_(sorted(types)))
    return list(await session.scalars(statement))


async def latest_position(session: AsyncSession, account_id: uuid.UUID) -> int:
    latest = await session.scalar(
        select(func.max(OutboxRow.position)).where(OutboxRow.account_id == account_id)
    )
    return int(latest or 0)
