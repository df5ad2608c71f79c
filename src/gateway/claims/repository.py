"""Reading and writing claims. Flushes; never commits.

Every read for an API caller takes the account id: another account's claim
is simply not found, so an id never reveals that it exists elsewhere.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.claims.model import (
    Attachment,
    Claim,
    ClaimLine,
    ClaimReason,
    ClaimStep,
    ClaimType,
    Comment,
    Side,
    SlaClock,
)
from domain.claims.status import ClaimStatus
from domain.orders.model import ChangeSource
from gateway.db.tables import (
    ClaimAttachmentRow,
    ClaimCommentRow,
    ClaimEventRow,
    ClaimLineRow,
    ClaimRow,
)

#: Claims whose quantities no longer count against their order lines.
RELEASED = (ClaimStatus.WITHDRAWN.value, ClaimStatus.REJECTED.value)
STATUS_RANK: dict[str, int] = {
    status.value: rank for rank, status in enumerate(ClaimStatus)
}


@dataclass(frozen=True, slots=True)
class ClaimFilter:
    statuses: frozenset[ClaimStatus] = frozenset()
    types: frozenset[ClaimType] = frozenset()
    order_id: uuid.UUID | None = None
    created_from: datetime | None = None
    created_before: datetime | None = None
    #: Only claims past a deadline (``True``) or within both (``False``).
    breached: bool | None = None
    now: datetime | None = None


@dataclass(frozen=True, slots=True)
class ClaimSort:
    field: str
    descending: bool

    def expression(self) -> Any:
        if self.field == "status":
            return case(STATUS_RANK, value=ClaimRow.status)
        if self.field == "resolution_due_at":
            return ClaimRow.resolution_due_at
        return ClaimRow.created_at

    def position(self, row: ClaimRow) -> list[Any]:
        value: Any
        if self.field == "status":
            value = STATUS_RANK[row.status]
        elif self.field == "resolution_due_at":
            value = row.resolution_due_at.isoformat()
        else:
            value = row.created_at.isoformat()
        return [value, str(row.id)]

    def parse(self, position: list[Any]) -> tuple[Any, uuid.UUID]:
        value, claim_id = position
        if self.field == "status":
            return int(value), uuid.UUID(str(claim_id))
        parsed = datetime.fromisoformat(str(value))
        if parsed.tzinfo is None:
            raise ValueError("a cursor time carries its offset")
        return parsed, uuid.UUID(str(claim_id))


class ClaimRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, claim: Claim, *, erp_system: str | None) -> None:
        self._session.add(
            ClaimRow(
                id=claim.id,
                account_id=claim.account_id,
                order_id=claim.order_id,
                type=claim.type.value,
                status=claim.status.value,
                description=claim.description,
                erp_system=erp_system,
                first_answer_due_at=claim.sla.first_answer_due_at,
                resolution_due_at=claim.sla.resolution_due_at,
            )
        )
        await self._session.flush()
        self._session.add_all(
            ClaimLineRow(
                claim_id=claim.id,
                line_no=line.line_no,
                order_line_no=line.order_line_no,
                sku=line.sku,
                quantity=line.quantity,
                reason=line.reason.value,
                note=line.note,
            )
            for line in claim.lines
        )
        self._session.add(
            ClaimEventRow(
                claim_id=claim.id, status=claim.status.value, source="api", note=None
            )
        )
        await self._session.flush()

    async def get(
        self, account_id: uuid.UUID, claim_id: uuid.UUID, *, for_update: bool = False
    ) -> Claim | None:
        statement = select(ClaimRow).where(
            ClaimRow.id == claim_id, ClaimRow.account_id == account_id
        )
        return await self._one(statement, for_update)

    async def get_any(
        self, claim_id: uuid.UUID, *, for_update: bool = False
    ) -> Claim | None:
        """A claim by id alone: for workers acting on the ERP's behalf."""
        return await self._one(
            select(ClaimRow).where(ClaimRow.id == claim_id), for_update
        )

    async def claimed_quantities(self, order_id: uuid.UUID) -> dict[int, int]:
        """Quantity already claimed per order line, by claims still standing."""
        rows = await self._session.execute(
            select(ClaimLineRow.order_line_no, func.sum(ClaimLineRow.quantity))
            .join(ClaimRow, ClaimRow.id == ClaimLineRow.claim_id)
            .where(ClaimRow.order_id == order_id, ClaimRow.status.not_in(RELEASED))
            .group_by(ClaimLineRow.order_line_no)
        )
        return {int(line_no): int(total) for line_no, total in rows}

    async def page(
        self,
        account_id: uuid.UUID,
        filters: ClaimFilter,
        sort: ClaimSort,
        after: tuple[Any, uuid.UUID] | None,
        limit: int,
    ) -> tuple[list[Claim], list[Any] | None]:
        key = sort.expression()
        statement = self._filtered(account_id, filters)
        if after is not None:
            boundary = tuple_(key, ClaimRow.id)
            position = tuple_(*after)
            statement = statement.where(
                boundary < position if sort.descending else boundary > position
            )
        ordering = (
            (key.desc(), ClaimRow.id.desc()) if sort.descending else (key, ClaimRow.id)
        )
        rows = list(
            await self._session.scalars(statement.order_by(*ordering).limit(limit + 1))
        )
        more = len(rows) > limit
        rows = rows[:limit]
        next_position = sort.position(rows[-1]) if more and rows else None
        return await self._load(rows), next_position

    async def set_status(
        self,
        claim: Claim,
        status: ClaimStatus,
        source: ChangeSource,
        note: str | None = None,
        **changes: Any,
    ) -> None:
        """Move the claim, add the step to its timeline, and update ``claim``."""
        await self._session.execute(
            update(ClaimRow)
            .where(ClaimRow.id == claim.id)
            .values(status=status.value, updated_at=func.now(), **changes)
        )
        self._session.add(
            ClaimEventRow(
                claim_id=claim.id, status=status.value, source=source.value, note=note
            )
        )
        await self._session.flush()
        claim.status = status

    async def update(self, claim_id: uuid.UUID, **changes: Any) -> None:
        await self._session.execute(
            update(ClaimRow)
            .where(ClaimRow.id == claim_id)
            .values(updated_at=func.now(), **changes)
        )

    async def add_comment(
        self,
        claim_id: uuid.UUID,
        side: Side,
        author: str,
        body: str,
        *,
        external_ref: str | None = None,
        at: datetime | None = None,
    ) -> uuid.UUID:
        comment_id = uuid.uuid4()
        values: dict[str, Any] = {}
        if at is not None:
            values["created_at"] = at
        self._session.add(
            ClaimCommentRow(
                id=comment_id,
                claim_id=claim_id,
                side=side.value,
                author=author,
                body=body,
                external_ref=external_ref,
                **values,
            )
        )
        await self._session.flush()
        return comment_id

    async def has_comment(self, claim_id: uuid.UUID, external_ref: str) -> bool:
        found = await self._session.scalar(
            select(ClaimCommentRow.id).where(
                ClaimCommentRow.claim_id == claim_id,
                ClaimCommentRow.external_ref == external_ref,
            )
        )
        return found is not None

    async def set_comment_ref(self, comment_id: uuid.UUID, external_ref: str) -> None:
        await self._session.execute(
            update(ClaimCommentRow)
            .where(ClaimCommentRow.id == comment_id)
            .values(external_ref=external_ref)
        )

    async def comment(self, comment_id: uuid.UUID) -> ClaimCommentRow | None:
        return await self._session.get(ClaimCommentRow, comment_id)

    async def attachment_count(self, claim_id: uuid.UUID) -> int:
        count = await self._session.scalar(
            select(func.count())
            .select_from(ClaimAttachmentRow)
            .where(ClaimAttachmentRow.claim_id == claim_id)
        )
        return int(count or 0)

    async def add_attachment(
        self, claim_id: uuid.UUID, attachment: Attachment, storage_key: str
    ) -> None:
        self._session.add(
            ClaimAttachmentRow(
                id=attachment.id,
                claim_id=claim_id,
                filename=attachment.filename,
                media_type=attachment.media_type,
                size=attachment.size,
                sha256=attachment.sha256,
                storage_key=storage_key,
            )
        )
        await self._session.flush()

    async def attachment(
        self, account_id: uuid.UUID, claim_id: uuid.UUID, attachment_id: uuid.UUID
    ) -> tuple[Attachment, str] | None:
        """The account's attachment and its storage key, if it is theirs."""
        row = await self._session.scalar(
            select(ClaimAttachmentRow)
            .join(ClaimRow, ClaimRow.id == ClaimAttachmentRow.claim_id)
            .where(
                ClaimAttachmentRow.id == attachment_id,
                ClaimAttachmentRow.claim_id == claim_id,
                ClaimRow.account_id == account_id,
            )
        )
        return None if row is None else (_attachment(row), row.storage_key)

    def _filtered(
        self, account_id: uuid.UUID, filters: ClaimFilter
    ) -> Select[ClaimRow]:
        statement = select(ClaimRow).where(ClaimRow.account_id == account_id)
        if filters.statuses:
            statement = statement.where(
                ClaimRow.status.in_(sorted(s.value for s in filters.statuses))
            )
        if filters.types:
            statement = statement.where(
                ClaimRow.type.in_(sorted(t.value for t in filters.types))
            )
        if filters.order_id is not None:
            statement = statement.where(ClaimRow.order_id == filters.order_id)
        if filters.created_from is not None:
            statement = statement.where(ClaimRow.created_at >= filters.created_from)
        if filters.created_before is not None:
            statement = statement.where(ClaimRow.created_at < filters.created_before)
        if filters.breached is not None:
            now = filters.now or func.now()
            breached = or_(
                func.coalesce(ClaimRow.first_answered_at, ClaimRow.settled_at, now)
                > ClaimRow.first_answer_due_at,
                func.coalesce(ClaimRow.settled_at, now) > ClaimRow.resolution_due_at,
            )
            statement = statement.where(breached if filters.breached else ~breached)
        return statement

    async def _one(self, statement: Select[ClaimRow], for_update: bool) -> Claim | None:
        if for_update:
            statement = statement.with_for_update()
        row = await self._session.scalar(statement)
        return None if row is None else (await self._load([row]))[0]

    async def _load(self, rows: Sequence[ClaimRow]) -> list[Claim]:
        if not rows:
            return []
        ids = [row.id for row in rows]
        lines: dict[uuid.UUID, list[ClaimLine]] = {claim_id: [] for claim_id in ids}
        for line in await self._session.scalars(
            select(ClaimLineRow)
            .where(ClaimLineRow.claim_id.in_(ids))
            .order_by(ClaimLineRow.claim_id, ClaimLineRow.line_no)
        ):
            lines[line.claim_id].append(
                ClaimLine(
                    line_no=line.line_no,
                    order_line_no=line.order_line_no,
                    sku=line.sku,
                    quantity=line.quantity,
                    reason=ClaimReason(line.reason),
                    note=line.note,
                )
            )
        steps: dict[uuid.UUID, list[ClaimStep]] = {claim_id: [] for claim_id in ids}
        for event in await self._session.scalars(
            select(ClaimEventRow)
            .where(ClaimEventRow.claim_id.in_(ids))
            .order_by(ClaimEventRow.claim_id, ClaimEventRow.id)
        ):
            steps[event.claim_id].append(
                ClaimStep(
                    status=ClaimStatus(event.status),
                    source=ChangeSource(event.source),
                    at=event.at,
                    note=event.note,
                )
            )
        comments: dict[uuid.UUID, list[Comment]] = {claim_id: [] for claim_id in ids}
        for comment in await self._session.scalars(
            select(ClaimCommentRow)
            .where(ClaimCommentRow.claim_id.in_(ids))
            .order_by(ClaimCommentRow.created_at, ClaimCommentRow.id)
        ):
            comments[comment.claim_id].append(
                Comment(
                    id=comment.id,
                    side=Side(comment.side),
                    author=comment.author,
                    body=comment.body,
                    at=comment.created_at,
                )
            )
        files: dict[uuid.UUID, list[Attachment]] = {claim_id: [] for claim_id in ids}
        for attachment in await self._session.scalars(
            select(ClaimAttachmentRow)
            .where(ClaimAttachmentRow.claim_id.in_(ids))
            .order_by(ClaimAttachmentRow.created_at, ClaimAttachmentRow.id)
        ):
            files[attachment.claim_id].append(_attachment(attachment))
        return [
            Claim(
                id=row.id,
                account_id=row.account_id,
                order_id=row.order_id,
                type=ClaimType(row.type),
                status=ClaimStatus(row.status),
                description=row.description,
                lines=lines[row.id],
                sla=SlaClock(
                    first_answer_due_at=row.first_answer_due_at,
                    resolution_due_at=row.resolution_due_at,
                    first_answered_at=row.first_answered_at,
                    settled_at=row.settled_at,
                ),
                created_at=row.created_at,
                erp_number=row.erp_number,
                timeline=steps[row.id],
                comments=comments[row.id],
                attachments=files[row.id],
            )
            for row in rows
        ]


def _attachment(row: ClaimAttachmentRow) -> Attachment:
    return Attachment(
        id=row.id,
        filename=row.filename,
        media_type=row.media_type,
        size=row.size,
        sha256=row.sha256,
        at=row.created_at,
    )
