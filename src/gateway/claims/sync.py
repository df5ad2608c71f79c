"""Syncing claim decisions and the supplier's messages back from the ERP.

The poller asks the ERP for claims changed since a cursor kept in
PostgreSQL (stream ``claims`` in ``sync_cursors``), walks each claim along
the status path its ERP state implies, adds the supplier's messages to the
thread, records timeline steps and events, then stores the new cursor, all
in one transaction: a crash repeats a poll, it never skips one. A
transaction-level advisory lock lets one worker replica poll a given ERP at
a time.

A decision counts as the supplier's first answer; a final one (rejected,
resolved, closed) stops the resolution clock. A claim the ERP settles in one
go (approved and carried out between two polls) shows both steps.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.claims.erp import ErpClaimChange, ErpClaimMessage, ErpClaimState
from domain.claims.model import Claim, Side
from domain.claims.status import SETTLED, TERMINAL, ClaimStatus, can_move
from domain.orders.model import ChangeSource
from domain.ports import ErpClaimsPort
from gateway.claims.announce import announce
from gateway.claims.repository import ClaimRepository
from gateway.db.sync_cursors import ChangeStream
from gateway.logs import get_logger
from gateway.references import EntityKind, ReferenceRepository

log = get_logger(__name__)

STREAM = "claims"
S = ClaimStatus

#: The statuses each ERP state walks a claim through, in order.
ERP_PATHS: Final[dict[ErpClaimState, tuple[ClaimStatus, ...]]] = {
    ErpClaimState.IN_REVIEW: (S.IN_REVIEW,),
    ErpClaimState.RETURNED: (S.AWAITING_CUSTOMER,),
    ErpClaimState.APPROVED: (S.APPROVED,),
    ErpClaimState.REJECTED: (S.REJECTED,),
    ErpClaimState.RESOLVED: (S.APPROVED, S.RESOLVED),
    ErpClaimState.CANCELLED: (S.CLOSED,),
}
#: Statuses whose reaching is the supplier answering the customer.
ANSWERS: Final = frozenset(
    {S.AWAITING_CUSTOMER, S.APPROVED, S.REJECTED, S.RESOLVED, S.CLOSED}
)


class ClaimSync:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        erp: ErpClaimsPort,
        erp_name: str,
        batch: int,
    ) -> None:
        self._sessions = sessions
        self._erp = erp
        self._erp_name = erp_name
        self._batch = batch
        self._stream = ChangeStream(erp_name, STREAM)

    async def run_once(self) -> int | None:
        """Apply one page of changes. None when another replica holds the lock."""
        async with self._stream.poll(self._sessions) as poll:
            if poll is None:
                return None
            page = await self._erp.claim_changes(poll.cursor, self._batch)
            for change in page.changes:
                await self._apply_change(poll.session, change)
            for message in page.messages:
                await self._apply_message(poll.session, message)
            poll.advance(page.cursor)
        return len(page.changes) + len(page.messages)

    async def _apply_change(
        self, session: AsyncSession, change: ErpClaimChange
    ) -> None:
        claim = await self._claim(session, change.claim_id, change.external_id)
        if claim is None:
            return  # a complaint the ERP has from elsewhere
        repository = ClaimRepository(session)
        await ReferenceRepository(session).link(
            EntityKind.CLAIM, claim.id, self._erp_name, change.external_id
        )
        if change.state is ErpClaimState.RETURNED and claim.status is S.SUBMITTED:
            return  # a submission still under way, not staff sending it back
        if claim.status in TERMINAL:
            return  # withdrawn or closed here; the ERP has nothing more to say
        moved = False
        for step in ERP_PATHS[change.state]:
            if claim.status is step:
                continue
            if not can_move(claim.status, step):
                log.warning(
                    "claim.sync.ignored",
                    claim_id=str(claim.id),
                    status=claim.status.value,
                    erp_state=change.state.value,
                )
                break
            await repository.set_status(
                claim,
                step,
                ChangeSource.ERP,
                f"{self._erp_name} complaint {change.number}: {change.state.value}",
                erp_number=change.number or None,
                **_clock_changes(claim, step, change.changed_at),
            )
            _clock_applied(claim, step, change.changed_at)
            moved = True
        if moved:
            await announce(session, claim.id, "claim.updated")
            log.info(
                "claim.sync.moved", claim_id=str(claim.id), status=claim.status.value
            )

    async def _apply_message(
        self, session: AsyncSession, message: ErpClaimMessage
    ) -> None:
        claim = await self._claim(session, None, message.external_id)
        if claim is None:
            return
        repository = ClaimRepository(session)
        if await repository.has_comment(claim.id, message.message_ref):
            return
        await repository.add_comment(
            claim.id,
            Side.SUPPLIER,
            message.author,
            message.body,
            external_ref=message.message_ref,
            at=message.written_at,
        )
        if claim.sla.first_answered_at is None:
            await repository.update(claim.id, first_answered_at=message.written_at)
        await announce(session, claim.id, "claim.updated")

    async def _claim(
        self, session: AsyncSession, claim_id: uuid.UUID | None, external_id: str
    ) -> Claim | None:
        if claim_id is None:
            claim_id = await ReferenceRepository(session).entity_id(
                EntityKind.CLAIM, self._erp_name, external_id
            )
        if claim_id is None:
            return None
        return await ClaimRepository(session).get_any(claim_id, for_update=True)


def _clock_changes(claim: Claim, step: ClaimStatus, at: datetime) -> dict[str, Any]:
    """The SLA clock's columns that reaching ``step`` at ``at`` sets."""
    changes: dict[str, Any] = {}
    if step in ANSWERS and claim.sla.first_answered_at is None:
        changes["first_answered_at"] = at
    if step in SETTLED and claim.sla.settled_at is None:
        changes["settled_at"] = at
    if step is S.IN_REVIEW and claim.sla.settled_at is not None:
        changes["settled_at"] = None  # reopened: the clock runs again
    return changes


def _clock_applied(claim: Claim, step: ClaimStatus, at: datetime) -> None:
    changes = _clock_changes(claim, step, at)
    if changes:
        claim.sla = replace(claim.sla, **changes)
