"""The claim as the unified model knows it."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from domain.claims.status import ClaimStatus
from domain.errors import ConflictError, InvalidInputError
from domain.orders.model import ChangeSource

MAX_CLAIM_LINES = 200
MAX_DESCRIPTION = 4000
MAX_COMMENT = 4000


class ClaimType(enum.StrEnum):
    COMPLAINT = "complaint"
    RETURN = "return"
    WARRANTY = "warranty"


class ClaimReason(enum.StrEnum):
    DAMAGED = "damaged"
    DEFECTIVE = "defective"
    WRONG_ITEM = "wrong_item"
    MISSING = "missing"
    NOT_AS_DESCRIBED = "not_as_described"
    NO_LONGER_NEEDED = "no_longer_needed"
    OTHER = "other"


class Side(enum.StrEnum):
    """Who wrote a comment: the customer's account or the supplier."""

    ACCOUNT = "account"
    SUPPLIER = "supplier"


@dataclass(frozen=True, slots=True)
class RequestedClaimLine:
    """A line as the customer files it: which order line, how many, why."""

    order_line_no: int
    quantity: int
    reason: ClaimReason
    note: str | None = None


@dataclass(frozen=True, slots=True)
class ClaimLine:
    line_no: int
    order_line_no: int
    sku: str
    quantity: int
    reason: ClaimReason
    note: str | None


@dataclass(frozen=True, slots=True)
class Comment:
    id: uuid.UUID
    side: Side
    author: str
    body: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Attachment:
    id: uuid.UUID
    filename: str
    media_type: str
    size: int
    sha256: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ClaimStep:
    status: ClaimStatus
    source: ChangeSource
    at: datetime
    note: str | None = None


@dataclass(frozen=True, slots=True)
class SlaClock:
    """The claim's deadlines and when each was met (None: not yet)."""

    first_answer_due_at: datetime
    resolution_due_at: datetime
    first_answered_at: datetime | None
    settled_at: datetime | None

    def first_answer_breached(self, now: datetime) -> bool:
        """Whether the first answer came late, or is late by ``now``.

        A claim settled (or withdrawn) without a separate answer counts as
        answered when it was settled.
        """
        answered = self.first_answered_at or self.settled_at
        return (answered or now) > self.first_answer_due_at

    def resolution_breached(self, now: datetime) -> bool:
        """Whether the claim was settled late, or is unsettled past its due."""
        return (self.settled_at or now) > self.resolution_due_at


@dataclass(slots=True)
class Claim:
    id: uuid.UUID
    account_id: uuid.UUID
    order_id: uuid.UUID
    type: ClaimType
    status: ClaimStatus
    description: str
    lines: list[ClaimLine]
    sla: SlaClock
    created_at: datetime
    erp_number: str | None = None
    timeline: list[ClaimStep] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)


def validate_request(
    description: str, lines: list[RequestedClaimLine]
) -> list[RequestedClaimLine]:
    """Refuse empty, oversized or repeated claim lines, naming the line."""
    if not description.strip():
        raise InvalidInputError("describe what is wrong", field="description")
    if len(description) > MAX_DESCRIPTION:
        raise InvalidInputError(
            f"a description has at most {MAX_DESCRIPTION} characters",
            field="description",
        )
    if not lines:
        raise InvalidInputError("a claim needs at least one line", field="lines")
    if len(lines) > MAX_CLAIM_LINES:
        raise InvalidInputError(
            f"a claim has at most {MAX_CLAIM_LINES} lines", field="lines"
        )
    seen: dict[int, int] = {}
    for index, line in enumerate(lines):
        if line.quantity < 1:
            raise InvalidInputError(
                f"lines[{index}]: quantity must be at least 1",
                field=f"lines[{index}].quantity",
            )
        if line.order_line_no in seen:
            raise InvalidInputError(
                f"lines[{index}]: order line {line.order_line_no} is already on "
                f"lines[{seen[line.order_line_no]}]; claim its whole quantity on "
                "one line",
                field=f"lines[{index}].order_line_no",
            )
        seen[line.order_line_no] = index
    return lines


def require_comment(body: str) -> str:
    cleaned = body.strip()
    if not cleaned:
        raise InvalidInputError("a comment cannot be empty", field="body")
    if len(cleaned) > MAX_COMMENT:
        raise InvalidInputError(
            f"a comment has at most {MAX_COMMENT} characters", field="body"
        )
    return cleaned


def require_room_for_file(attached: int, limit: int) -> None:
    """Refuse another file on a claim that already carries ``limit`` of them."""
    if attached >= limit:
        raise ConflictError(f"a claim carries at most {limit} files")
