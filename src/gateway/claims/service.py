"""Claim use cases: filing, the thread, files and withdrawal.

Reads and the ERP calls they need happen before a transaction opens, so no
database connection waits on a slow ERP; each write is one transaction that
also records the claim's timeline step, its outbox event and, where the ERP
must hear of it, a task for the claim worker (:mod:`gateway.claims.tasks`).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.accounts.model import Account
from domain.claims.claimable import (
    OrderLineBalance,
    claim_lines,
    require_claimable_order,
)
from domain.claims.model import (
    Attachment,
    Claim,
    ClaimType,
    RequestedClaimLine,
    Side,
    SlaClock,
    require_comment,
    require_room_for_file,
    validate_request,
)
from domain.claims.sla import due_times
from domain.claims.status import ClaimStatus, require_move, require_open_thread
from domain.errors import NotFoundError
from domain.orders.model import ChangeSource, Order
from domain.ports import AttachmentStorePort, ErpClaimsPort
from gateway.claims.announce import announce
from gateway.claims.repository import ClaimRepository
from gateway.claims.settings import ClaimsSettings
from gateway.claims.tasks import enqueue
from gateway.db.engine import transaction
from gateway.db.tables import OrderRow
from gateway.logs import get_logger
from gateway.orders.repository import OrderRepository
from gateway.references import EntityKind, ReferenceRepository

log = get_logger(__name__)

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class ClaimRequest:
    order_id: uuid.UUID
    type: ClaimType
    description: str
    lines: list[RequestedClaimLine]


@dataclass(frozen=True, slots=True)
class PreparedClaim:
    """A checked claim, and the delivered quantities it was checked against."""

    claim: Claim
    delivered: dict[str, Decimal]


@dataclass(frozen=True, slots=True)
class Upload:
    """A file on its way in: name as sent, type as sniffed, bytes as they come."""

    filename: str
    media_type: str
    chunks: AsyncIterator[bytes]


class ClaimService:
    """Claims of this deployment; ``erp`` is None when no ERP takes claims
    (claims are then kept and decided in Portico alone)."""

    def __init__(
        self,
        erp: ErpClaimsPort | None,
        erp_name: str,
        store: AttachmentStorePort,
        settings: ClaimsSettings,
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        self._erp = erp
        self._erp_name = erp_name
        self._store = store
        self._settings = settings
        self._clock = clock

    @property
    def store(self) -> AttachmentStorePort:
        return self._store

    @property
    def settings(self) -> ClaimsSettings:
        return self._settings

    async def prepare(
        self,
        sessions: async_sessionmaker[AsyncSession],
        account: Account,
        request: ClaimRequest,
    ) -> PreparedClaim:
        """Check a new claim against its order and what was delivered.

        Raises NotFoundError for an order that is not the account's,
        OrderNotClaimableError (a conflict naming the order's status) for an
        order the ERP has not accepted, and InvalidInputError naming the line
        for a quantity above the limit.
        """
        validate_request(request.description, request.lines)
        async with transaction(sessions) as session:
            order = await OrderRepository(session).get(account.id, request.order_id)
            if order is None:
                raise NotFoundError("order", request.order_id)
            require_claimable_order(order.status)
            order_ref = await ReferenceRepository(session).external_id(
                EntityKind.ORDER, order.id, self._erp_name
            )
            claimed = await ClaimRepository(session).claimed_quantities(order.id)
        delivered: dict[str, Decimal] = {}
        if self._erp is not None and order_ref is not None:
            delivered = await self._erp.delivered_quantities(order_ref)
        lines = claim_lines(request.lines, _balances(order, delivered, claimed))
        filed_at = self._clock()
        due = due_times(request.type, filed_at, account.zone)
        claim = Claim(
            id=uuid.uuid4(),
            account_id=account.id,
            order_id=order.id,
            type=request.type,
            status=ClaimStatus.SUBMITTED,
            description=request.description.strip(),
            lines=lines,
            sla=SlaClock(
                first_answer_due_at=due.first_answer_due_at,
                resolution_due_at=due.resolution_due_at,
                first_answered_at=None,
                settled_at=None,
            ),
            created_at=filed_at,
        )
        return PreparedClaim(claim, delivered)

    async def create(
        self, session: AsyncSession, account: Account, prepared: PreparedClaim
    ) -> Claim:
        """Store the claim, its event and its ERP task.

        The order row is locked, its status checked and the claimed
        quantities read again, so two claims filed at once cannot together
        take more than the line allows, and an order cancelled meanwhile
        takes no claim.
        """
        claim = prepared.claim
        order_row = await session.scalar(
            select(OrderRow).where(OrderRow.id == claim.order_id).with_for_update()
        )
        order = await OrderRepository(session).get(account.id, claim.order_id)
        if order_row is None or order is None:
            raise NotFoundError("order", claim.order_id)
        require_claimable_order(order.status)
        claimed = await ClaimRepository(session).claimed_quantities(order.id)
        requested = [
            RequestedClaimLine(
                line.order_line_no, line.quantity, line.reason, line.note
            )
            for line in claim.lines
        ]
        claim_lines(requested, _balances(order, prepared.delivered, claimed))
        repository = ClaimRepository(session)
        await repository.add(
            claim, erp_system=self._erp_name if self._erp is not None else None
        )
        if self._erp is not None:
            await enqueue(session, claim.id, "submit")
        stored = await announce(session, claim.id, "claim.created")
        log.info("claim.filed", claim_id=str(claim.id), type=claim.type.value)
        return stored

    async def comment(
        self,
        session: AsyncSession,
        account: Account,
        claim_id: uuid.UUID,
        author: str,
        body: str,
    ) -> Claim:
        """Add the account's comment; an answer to the supplier's question
        puts the claim back in review."""
        text = require_comment(body)
        repository = ClaimRepository(session)
        claim = await _locked(repository, account, claim_id)
        require_open_thread(claim.status, "commented on")
        comment_id = await repository.add_comment(claim.id, Side.ACCOUNT, author, text)
        if claim.status is ClaimStatus.AWAITING_CUSTOMER:
            await repository.set_status(
                claim, ClaimStatus.IN_REVIEW, ChangeSource.API, "the customer answered"
            )
            if self._erp is not None:
                await enqueue(session, claim.id, "resume")
        if self._erp is not None:
            await enqueue(session, claim.id, "message", comment_id=comment_id)
        return await announce(session, claim.id, "claim.updated")

    async def withdraw(
        self, session: AsyncSession, account: Account, claim_id: uuid.UUID
    ) -> Claim:
        repository = ClaimRepository(session)
        claim = await _locked(repository, account, claim_id)
        require_move(claim.status, ClaimStatus.WITHDRAWN, "withdrawn")
        await repository.set_status(
            claim,
            ClaimStatus.WITHDRAWN,
            ChangeSource.API,
            "withdrawn by the customer",
            settled_at=self._clock(),
        )
        if self._erp is not None:
            await enqueue(session, claim.id, "withdraw")
        log.info("claim.withdrawn", claim_id=str(claim.id))
        return await announce(session, claim.id, "claim.updated")

    async def check_attachable(
        self,
        sessions: async_sessionmaker[AsyncSession],
        account: Account,
        claim_id: uuid.UUID,
    ) -> None:
        """Refuse before any byte is stored: unknown claim, closed thread,
        too many files. Only a first look: :meth:`attach` decides again
        under the claim's lock."""
        async with transaction(sessions) as session:
            repository = ClaimRepository(session)
            claim = await repository.get(account.id, claim_id)
            if claim is None:
                raise NotFoundError("claim", claim_id)
            await self._require_attachable(repository, claim)

    async def _require_attachable(
        self, repository: ClaimRepository, claim: Claim
    ) -> None:
        require_open_thread(claim.status, "given files")
        require_room_for_file(
            await repository.attachment_count(claim.id),
            self._settings.max_attachments,
        )

    async def attach(
        self,
        sessions: async_sessionmaker[AsyncSession],
        account: Account,
        claim_id: uuid.UUID,
        upload: Upload,
    ) -> tuple[Claim, Attachment]:
        """Stream the file to the store, then record it on the claim.

        Whatever stops the upload (the size limit, a client gone, a claim
        closed or filled meanwhile) leaves no stored bytes behind. The claim's
        status and its file count are checked again under the claim's row
        lock, in the transaction that records the file, so uploads that
        arrive together cannot take a claim past its limit.
        """
        await self.check_attachable(sessions, account, claim_id)
        key = f"{claim_id}/{uuid.uuid4()}"
        stored = await self._store.put(key, upload.chunks)
        try:
            async with transaction(sessions) as session:
                repository = ClaimRepository(session)
                claim = await _locked(repository, account, claim_id)
                await self._require_attachable(repository, claim)
                attachment = Attachment(
                    id=uuid.uuid4(),
                    filename=upload.filename,
                    media_type=upload.media_type,
                    size=stored.size,
                    sha256=stored.sha256,
                    at=self._clock(),
                )
                await repository.add_attachment(claim.id, attachment, key)
                fresh = await announce(session, claim.id, "claim.updated")
        except BaseException:
            await self._store.delete(key)
            raise
        log.info(
            "claim.attachment.stored",
            claim_id=str(claim_id),
            media_type=upload.media_type,
            size=stored.size,
        )
        return fresh, attachment


async def _locked(
    repository: ClaimRepository, account: Account, claim_id: uuid.UUID
) -> Claim:
    claim = await repository.get(account.id, claim_id, for_update=True)
    if claim is None:
        raise NotFoundError("claim", claim_id)
    return claim


def _balances(
    order: Order, delivered: dict[str, Decimal], claimed: dict[int, int]
) -> dict[int, OrderLineBalance]:
    return {
        line.line_no: OrderLineBalance(
            order_line_no=line.line_no,
            sku=line.sku,
            ordered=line.quantity,
            delivered=int(delivered[line.sku]) if line.sku in delivered else None,
            already_claimed=claimed.get(line.line_no, 0),
        )
        for line in order.lines
    }
