"""A document as the unified model knows it: what, which number, how much."""

from __future__ import annotations

import enum
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime

from domain.money import Money


class DocumentType(enum.StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"
    DELIVERY_NOTE = "delivery_note"
    QUOTE = "quote"


class DocumentStatus(enum.StrEnum):
    """Where a document stands: being prepared, issued, settled or void."""

    DRAFT = "draft"
    ISSUED = "issued"
    PAID = "paid"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Document:
    """One indexed document of one account.

    ``external_ref`` is the source system's own reference, opaque to Portico;
    ``source_changed_at`` the time of the source's last change, which makes
    the document's version (and its content's ETag).
    """

    id: uuid.UUID
    account_id: uuid.UUID
    type: DocumentType
    number: str | None
    status: DocumentStatus
    issue_date: date | None
    due_date: date | None
    amount: Money | None
    order_id: uuid.UUID | None
    source_system: str
    external_ref: str
    source_changed_at: datetime
    indexed_at: datetime


@dataclass(frozen=True, slots=True)
class DocumentContent:
    """A rendered document on its way from the source system.

    ``chunks`` yields the bytes as the source sends them; nothing is held
    whole. ``aclose`` releases the source's connection and is safe to call
    more than once, also after ``chunks`` is exhausted or abandoned.
    """

    media_type: str
    filename: str
    size: int | None
    chunks: AsyncIterator[bytes]
    aclose: Callable[[], Awaitable[None]]
