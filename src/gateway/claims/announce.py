"""Announcing a claim's change: its event, with the claim as the API shows it."""

from __future__ import annotations

import uuid
import zoneinfo
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.claims.model import Claim
from gateway.claims.repository import ClaimRepository
from gateway.claims.schemas import claim_read
from gateway.db.tables import AccountRow
from gateway.events.outbox import record_event


async def announce(
    session: AsyncSession, claim_id: uuid.UUID, event_type: str
) -> Claim:
    """Write the claim's event to the outbox and return the claim fresh."""
    claim = await ClaimRepository(session).get_any(claim_id)
    assert claim is not None
    zone_name = await session.scalar(
        select(AccountRow.timezone).where(AccountRow.id == claim.account_id)
    )
    account_zone = zoneinfo.ZoneInfo(zone_name or "UTC")
    await record_event(
        session,
        event_type=event_type,
        account_id=claim.account_id,
        subject=str(claim.id),
        data=claim_read(claim, account_zone, datetime.now(UTC)).model_dump(mode="json"),
    )
    return claim
