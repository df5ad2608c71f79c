"""Telling the ERP about claims: the write-through half of a claim's life.

Filing, commenting and withdrawing only record a task next to the change,
in the same transaction. This worker carries the tasks out in order per
claim (a message never reaches the ERP before its claim), with the leasing,
backoff and replica-sharing of order submission: due tasks are leased with
``FOR UPDATE SKIP LOCKED``, a transient failure is retried later with
exponential backoff and jitter, and a refusal is recorded on the claim's
timeline and dropped.

Submitting looks the claim up in the ERP first (its id travels as the ERP
record's reference), so a retry after a timeout adopts the first attempt.
"""

from __future__ import annotations

import random
import uuid
from datetime import timedelta
from typing import Literal

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.backends import BackendError, BackendRejectedError
from domain.claims.erp import ErpClaimReceipt, ErpClaimRequest
from domain.claims.model import Claim
from domain.claims.status import ClaimStatus, can_move
from domain.orders.model import ChangeSource
from domain.ports import ErpClaimsPort
from gateway.claims.announce import announce
from gateway.claims.repository import ClaimRepository
from gateway.claims.settings import ClaimsSettings
from gateway.db.engine import transaction
from gateway.db.tables import ClaimErpTaskRow
from gateway.logs import get_logger
from gateway.references import EntityKind, ReferenceRepository

log = get_logger(__name__)

Action = Literal["submit", "message", "resume", "withdraw"]


class TaskNotReadyError(Exception):
    """The task cannot run yet (its order is not in the ERP); try later."""


async def enqueue(
    session: AsyncSession,
    claim_id: uuid.UUID,
    action: Action,
    *,
    comment_id: uuid.UUID | None = None,
) -> None:
    """Record a task in ``session``: it commits with the change it reports."""
    session.add(
        ClaimErpTaskRow(claim_id=claim_id, action=action, comment_id=comment_id)
    )
    await session.flush()


class ClaimErpWorker:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        erp: ErpClaimsPort,
        erp_name: str,
        settings: ClaimsSettings,
    ) -> None:
        self._sessions = sessions
        self._erp = erp
        self._erp_name = erp_name
        self._settings = settings

    async def run_once(self) -> int:
        """Carry out the due tasks; return how many were leased."""
        leased = await self._lease()
        for task_id in leased:
            await self._run(task_id)
        return len(leased)

    async def _lease(self) -> list[int]:
        """Lease the oldest due task of each claim, skipping ones another
        worker holds, so replicas share the work without doubling it."""
        oldest = (
            select(func.min(ClaimErpTaskRow.id))
            .group_by(ClaimErpTaskRow.claim_id)
            .scalar_subquery()
        )
        due = (
            select(ClaimErpTaskRow.id)
            .where(
                ClaimErpTaskRow.id.in_(oldest),
                ClaimErpTaskRow.next_attempt_at <= func.now(),
            )
            .order_by(ClaimErpTaskRow.next_attempt_at, ClaimErpTaskRow.id)
            .limit(self._settings.erp_batch)
            .with_for_update(skip_locked=True)
        )
        lease = timedelta(seconds=self._settings.erp_lease_seconds)
        async with transaction(self._sessions) as session:
            leased = await session.execute(
                update(ClaimErpTaskRow)
                .where(ClaimErpTaskRow.id.in_(due.scalar_subquery()))
                .values(next_attempt_at=func.now() + lease)
                .returning(ClaimErpTaskRow.id)
            )
            return sorted(leased.scalars())

    async def _run(self, task_id: int) -> None:
        """One task, under the claim's row lock (serialised with the API)."""
        async with transaction(self._sessions) as session:
            task = await session.get(ClaimErpTaskRow, task_id, with_for_update=True)
            if task is None:
                return
            repository = ClaimRepository(session)
            claim = await repository.get_any(task.claim_id, for_update=True)
            if claim is None:
                await session.delete(task)
                return
            try:
                await self._carry_out(session, claim, task)
            except TaskNotReadyError as waiting:
                await self._retry_later(session, task, str(waiting))
            except BackendRejectedError as error:
                await self._refused(session, claim, task, error)
            except BackendError as error:
                await self._retry_later(
                    session, task, f"{error.reason}: {error.detail}"
                )
            else:
                await session.delete(task)

    async def _carry_out(
        self, session: AsyncSession, claim: Claim, task: ClaimErpTaskRow
    ) -> None:
        references = ReferenceRepository(session)
        if task.action == "submit":
            await self._submit(session, claim)
            return
        external_id = await references.external_id(
            EntityKind.CLAIM, claim.id, self._erp_name
        )
        if external_id is None:
            if await self._submission_pending(session, task):
                raise TaskNotReadyError("the claim is not in the ERP yet")
            # The ERP refused the claim itself: there is nothing to update.
            log.info(
                "claim.erp_task.dropped", claim_id=str(claim.id), action=task.action
            )
            return
        if task.action == "message" and task.comment_id is not None:
            repository = ClaimRepository(session)
            comment = await repository.comment(task.comment_id)
            if comment is None or comment.external_ref is not None:
                return
            message_ref = await self._erp.post_claim_message(
                external_id, comment.author, comment.body
            )
            await repository.set_comment_ref(comment.id, message_ref)
        elif task.action == "resume":
            await self._erp.resume_claim(external_id)
        elif task.action == "withdraw":
            await self._erp.withdraw_claim(external_id)

    async def _submission_pending(
        self, session: AsyncSession, task: ClaimErpTaskRow
    ) -> bool:
        found = await session.scalar(
            select(ClaimErpTaskRow.id).where(
                ClaimErpTaskRow.claim_id == task.claim_id,
                ClaimErpTaskRow.action == "submit",
                ClaimErpTaskRow.id < task.id,
            )
        )
        return found is not None

    async def _submit(self, session: AsyncSession, claim: Claim) -> None:
        references = ReferenceRepository(session)
        order_ref = await references.external_id(
            EntityKind.ORDER, claim.order_id, self._erp_name
        )
        customer_ref = await references.external_id(
            EntityKind.ACCOUNT, claim.account_id, self._erp_name
        )
        if order_ref is None or customer_ref is None:
            raise TaskNotReadyError("the claim's order is not in the ERP yet")
        receipt = await self._erp.find_claim(claim.id)
        if receipt is None:
            receipt = await self._erp.submit_claim(
                ErpClaimRequest(
                    claim_id=claim.id,
                    customer_ref=customer_ref,
                    order_external_id=order_ref,
                    type=claim.type,
                    description=claim.description,
                    lines=tuple(claim.lines),
                )
            )
        await self._accepted(session, claim, receipt)

    async def _accepted(
        self, session: AsyncSession, claim: Claim, receipt: ErpClaimReceipt
    ) -> None:
        await ReferenceRepository(session).link(
            EntityKind.CLAIM, claim.id, self._erp_name, receipt.external_id
        )
        repository = ClaimRepository(session)
        await repository.update(claim.id, erp_number=receipt.number)
        if claim.status is ClaimStatus.SUBMITTED:
            await repository.set_status(
                claim,
                ClaimStatus.IN_REVIEW,
                ChangeSource.ERP,
                f"{self._erp_name} complaint {receipt.number}",
            )
        await announce(session, claim.id, "claim.updated")
        log.info("claim.submit.accepted", claim_id=str(claim.id), number=receipt.number)

    async def _refused(
        self,
        session: AsyncSession,
        claim: Claim,
        task: ClaimErpTaskRow,
        error: BackendRejectedError,
    ) -> None:
        """The ERP will never take this task: note why on the timeline."""
        await session.delete(task)
        if task.action == "submit":
            # Later tasks of a claim the ERP refused cannot succeed either.
            await session.execute(
                delete(ClaimErpTaskRow).where(ClaimErpTaskRow.claim_id == claim.id)
            )
        note = f"the ERP refused to {task.action} it: {error.detail}"
        repository = ClaimRepository(session)
        if task.action == "submit" and can_move(claim.status, ClaimStatus.IN_REVIEW):
            # Staff decide it in Portico instead; the claim is not lost.
            await repository.set_status(
                claim, ClaimStatus.IN_REVIEW, ChangeSource.SYSTEM, note
            )
            await announce(session, claim.id, "claim.updated")
        log.error(
            "claim.erp_task.refused",
            claim_id=str(claim.id),
            action=task.action,
            detail=error.detail,
        )

    async def _retry_later(
        self, session: AsyncSession, task: ClaimErpTaskRow, reason: str
    ) -> None:
        task.attempts += 1
        delay = self.backoff(task.attempts)
        task.last_error = reason[:500]
        task.next_attempt_at = func.now() + delay
        await session.flush()
        log.warning(
            "claim.erp_task.retry_scheduled",
            claim_id=str(task.claim_id),
            action=task.action,
            attempt=task.attempts,
            reason=reason[:200],
            retry_in_seconds=round(delay.total_seconds(), 1),
        )

    def backoff(self, attempts: int) -> timedelta:
        """Exponential backoff with jitter, capped."""
        ceiling = min(
            self._settings.retry_max_seconds,
            self._settings.retry_base_seconds * 2 ** max(attempts - 1, 0),
        )
        return timedelta(seconds=random.uniform(ceiling / 2, ceiling))  # noqa: S311
