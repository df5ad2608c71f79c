"""What Portico tells the ERP about a claim, and what the ERP tells back."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime

from domain.claims.model import ClaimLine, ClaimType


@dataclass(frozen=True, slots=True)
class ErpClaimRequest:
    """A claim to open in the ERP against the order ``order_external_id``.

    ``claim_id`` travels as the ERP record's reference, so that a retry
    after a timeout finds the first attempt instead of opening a second.
    """

    claim_id: uuid.UUID
    customer_ref: str
    order_external_id: str
    type: ClaimType
    description: str
    lines: tuple[ClaimLine, ...]


@dataclass(frozen=True, slots=True)
class ErpClaimReceipt:
    external_id: str
    number: str


class ErpClaimState(enum.StrEnum):
    """A claim's state in the ERP, in Portico's words."""

    IN_REVIEW = "in_review"
    #: Sent back to the customer for more information.
    RETURNED = "returned"
    APPROVED = "approved"
    REJECTED = "rejected"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class ErpClaimChange:
    """A claim's state in the ERP as of ``changed_at``.

    ``claim_id`` is Portico's id read back from the ERP's reference; None
    for claims the ERP has from elsewhere.
    """

    claim_id: uuid.UUID | None
    external_id: str
    number: str
    state: ErpClaimState
    changed_at: datetime


@dataclass(frozen=True, slots=True)
class ErpClaimMessage:
    """A message the supplier's staff wrote to the customer on a claim.

    ``message_ref`` is the ERP's id of the message, unique in that system.
    """

    external_id: str
    message_ref: str
    author: str
    body: str
    written_at: datetime


@dataclass(frozen=True, slots=True)
class ErpClaimChangePage:
    """State changes and supplier messages after a cursor, oldest first.

    The cursor is opaque; an empty page returns the cursor it was given (or
    a starting one). Changes are snapshots and may repeat.
    """

    changes: tuple[ErpClaimChange, ...]
    messages: tuple[ErpClaimMessage, ...]
    cursor: str
