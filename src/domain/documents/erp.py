"""What the ERP reports about documents and about a customer's ledger."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from domain.documents.model import DocumentStatus, DocumentType
from domain.money import Money


@dataclass(frozen=True, slots=True)
class ErpDocument:
    """A document's state in the ERP as of ``changed_at``.

    ``customer_ref`` is the ERP's id of the customer it was issued to.
    ``order_external_id`` is the ERP's id of the order it belongs to, and
    ``order_id`` Portico's id read back from that order's reference, when
    the order came through Portico.
    """

    external_ref: str
    type: DocumentType
    status: DocumentStatus
    customer_ref: str
    number: str | None
    issue_date: date | None
    due_date: date | None
    amount: Money | None
    order_external_id: str | None
    order_id: uuid.UUID | None
    changed_at: datetime


@dataclass(frozen=True, slots=True)
class ErpDocumentPage:
    """Documents changed after a cursor, oldest first, and the next cursor.

    Like :class:`~domain.orders.erp.ErpChangePage`: the cursor is opaque,
    an empty page returns the cursor it was given (or a starting one), and a
    document may appear again with the same state.
    """

    documents: tuple[ErpDocument, ...]
    cursor: str


class LedgerEntryKind(enum.StrEnum):
    """Why the customer's balance moved."""

    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"
    PAYMENT = "payment"
    #: Anything else posted to the customer's account (reversals, write-offs).
    ADJUSTMENT = "adjustment"


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One posting to the customer's receivable account.

    ``debit`` raises what the customer owes, ``credit`` lowers it; both are
    non-negative amounts in the ledger's currency. ``document_ref`` is the
    :attr:`ErpDocument.external_ref` of the invoice or credit note behind
    the entry, when there is one.
    """

    date: date
    kind: LedgerEntryKind
    reference: str
    description: str
    debit: Decimal
    credit: Decimal
    document_ref: str | None = None


@dataclass(frozen=True, slots=True)
class CustomerLedger:
    """A customer's receivable account over a period, as the ERP keeps it.

    ``opening_balance`` is what the customer owed before ``start`` (debit
    minus credit of every posting before it); ``entries`` are the postings
    dated ``start`` to ``end`` inclusive, oldest first.
    """

    currency: str
    start: date
    end: date
    opening_balance: Money
    entries: tuple[LedgerEntry, ...]
