"""The claims API's shapes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from domain.claims.model import Claim, ClaimReason, ClaimType, Side
from domain.claims.status import ClaimStatus
from domain.orders.model import ChangeSource

#: Multi-line text: printable, with line breaks and tabs but no other controls.
MULTILINE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
#: One line of text: no control characters at all.
ONE_LINE = r"^[^\x00-\x1f\x7f]*$"


class ClaimLineCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_line_no: Annotated[int, Field(ge=1, le=10_000, strict=True)] = Field(
        description="The line of the order being claimed (its line_no)."
    )
    quantity: Annotated[int, Field(gt=0, le=1_000_000, strict=True)] = Field(
        description="Whole pieces, at most what the line can still be claimed for."
    )
    reason: ClaimReason
    note: Annotated[str, Field(max_length=1000, pattern=ONE_LINE)] | None = None


class ClaimCreate(BaseModel):
    """A claim against lines of one of the account's own orders."""

    model_config = ConfigDict(extra="forbid")

    order_id: uuid.UUID
    type: ClaimType
    description: Annotated[str, Field(min_length=1, max_length=4000, pattern=MULTILINE)]
    lines: Annotated[list[ClaimLineCreate], Field(min_length=1, max_length=200)]


class CommentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: Annotated[str, Field(min_length=1, max_length=4000, pattern=MULTILINE)]
    author: (
        Annotated[str, Field(min_length=1, max_length=200, pattern=ONE_LINE)] | None
    ) = Field(default=None, description="Who writes; default: the API key's name.")


class ClaimLineRead(BaseModel):
    line_no: int
    order_line_no: int
    sku: str
    quantity: int
    reason: ClaimReason
    note: str | None


class ClaimStepRead(BaseModel):
    status: ClaimStatus
    source: ChangeSource
    at: datetime
    note: str | None


class CommentRead(BaseModel):
    id: uuid.UUID
    side: Side
    author: str
    body: str
    at: datetime


class AttachmentRead(BaseModel):
    id: uuid.UUID
    filename: str = Field(description="The name it was uploaded with.")
    media_type: str = Field(description="As read from the content.")
    size: int
    sha256: str
    at: datetime
    content_url: str


class SlaRead(BaseModel):
    """Deadlines in the account's time zone, and whether each was missed."""

    first_answer_due_at: datetime
    first_answered_at: datetime | None
    first_answer_breached: bool
    resolution_due_at: datetime
    settled_at: datetime | None
    resolution_breached: bool


class ClaimRead(BaseModel):
    id: uuid.UUID
    order_id: uuid.UUID
    type: ClaimType
    status: ClaimStatus
    description: str
    lines: list[ClaimLineRead]
    erp_number: str | None = Field(description="The claim's number in the ERP.")
    sla: SlaRead
    created_at: datetime
    timeline: list[ClaimStepRead]
    comments: list[CommentRead]
    attachments: list[AttachmentRead]


class ClaimSummary(BaseModel):
    id: uuid.UUID
    order_id: uuid.UUID
    type: ClaimType
    status: ClaimStatus
    line_count: int
    erp_number: str | None
    sla_breached: bool
    created_at: datetime


class ClaimPage(BaseModel):
    items: list[ClaimSummary]
    next_cursor: str | None


def sla_read(claim: Claim, zone: ZoneInfo, now: datetime) -> SlaRead:
    sla = claim.sla
    return SlaRead(
        first_answer_due_at=sla.first_answer_due_at.astimezone(zone),
        first_answered_at=_local(sla.first_answered_at, zone),
        first_answer_breached=sla.first_answer_breached(now),
        resolution_due_at=sla.resolution_due_at.astimezone(zone),
        settled_at=_local(sla.settled_at, zone),
        resolution_breached=sla.resolution_breached(now),
    )


def _local(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    return None if moment is None else moment.astimezone(zone)


def claim_read(claim: Claim, zone: ZoneInfo, now: datetime) -> ClaimRead:
    return ClaimRead(
        id=claim.id,
        order_id=claim.order_id,
        type=claim.type,
        status=claim.status,
        description=claim.description,
        lines=[
            ClaimLineRead(
                line_no=line.line_no,
                order_line_no=line.order_line_no,
                sku=line.sku,
                quantity=line.quantity,
                reason=line.reason,
                note=line.note,
            )
            for line in claim.lines
        ],
        erp_number=claim.erp_number,
        sla=sla_read(claim, zone, now),
        created_at=claim.created_at,
        timeline=[
            ClaimStepRead(
                status=step.status, source=step.source, at=step.at, note=step.note
            )
            for step in claim.timeline
        ],
        comments=[
            CommentRead(
                id=comment.id,
                side=comment.side,
                author=comment.author,
                body=comment.body,
                at=comment.at,
            )
            for comment in claim.comments
        ],
        attachments=[
            AttachmentRead(
                id=attachment.id,
                filename=attachment.filename,
                media_type=attachment.media_type,
                size=attachment.size,
                sha256=attachment.sha256,
                at=attachment.at,
                content_url=f"/v1/claims/{claim.id}/attachments/{attachment.id}",
            )
            for attachment in claim.attachments
        ],
    )


def claim_summary(claim: Claim, zone: ZoneInfo, now: datetime) -> ClaimSummary:
    sla = sla_read(claim, zone, now)
    return ClaimSummary(
        id=claim.id,
        order_id=claim.order_id,
        type=claim.type,
        status=claim.status,
        line_count=len(claim.lines),
        erp_number=claim.erp_number,
        sla_breached=sla.first_answer_breached or sla.resolution_breached,
        created_at=claim.created_at,
    )
