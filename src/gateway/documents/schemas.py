"""The documents API's shapes."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field

from domain.documents.erp import LedgerEntryKind
from domain.documents.model import Document, DocumentStatus, DocumentType
from domain.documents.statement import Statement
from gateway.api.types import MoneyModel


class DocumentRead(BaseModel):
    id: uuid.UUID
    type: DocumentType
    number: str | None = Field(description="The document's number in its source.")
    status: DocumentStatus
    issue_date: date | None
    due_date: date | None
    amount: MoneyModel | None = Field(
        description="Total, always positive; null for delivery notes."
    )
    order_id: uuid.UUID | None = Field(description="The Portico order it belongs to.")
    source_system: str
    external_ref: str = Field(description="The document's id in its source system.")
    updated_at: datetime = Field(description="When the source last changed it.")
    content_url: str


class DocumentPage(BaseModel):
    items: list[DocumentRead]
    next_cursor: str | None


class StatementLineRead(BaseModel):
    date: date
    kind: LedgerEntryKind
    reference: str
    description: str
    debit: MoneyModel
    credit: MoneyModel
    balance: MoneyModel
    document_id: uuid.UUID | None = Field(
        description="The indexed invoice or credit note behind the line, if any."
    )


class StatementTotalsRead(BaseModel):
    invoices: MoneyModel
    credit_notes: MoneyModel
    payments: MoneyModel
    adjustments: MoneyModel


class StatementRead(BaseModel):
    """Opening + invoices - credit notes - payments + adjustments = closing."""

    account_id: uuid.UUID
    date_from: date = Field(serialization_alias="from")
    date_to: date = Field(serialization_alias="to")
    currency: str
    opening_balance: MoneyModel
    lines: list[StatementLineRead]
    totals: StatementTotalsRead
    closing_balance: MoneyModel


def document_read(document: Document) -> DocumentRead:
    return DocumentRead(
        id=document.id,
        type=document.type,
        number=document.number,
        status=document.status,
        issue_date=document.issue_date,
        due_date=document.due_date,
        amount=None if document.amount is None else MoneyModel.of(document.amount),
        order_id=document.order_id,
        source_system=document.source_system,
        external_ref=document.external_ref,
        updated_at=document.source_changed_at,
        content_url=f"/v1/documents/{document.id}/content",
    )


def statement_read(
    account_id: uuid.UUID,
    statement: Statement,
    document_ids: dict[str, uuid.UUID],
) -> StatementRead:
    currency = statement.opening_balance.currency
    return StatementRead(
        account_id=account_id,
        date_from=statement.start,
        date_to=statement.end,
        currency=currency,
        opening_balance=MoneyModel.of(statement.opening_balance),
        lines=[
            StatementLineRead(
                date=line.entry.date,
                kind=line.entry.kind,
                reference=line.entry.reference,
                description=line.entry.description,
                debit=MoneyModel(amount=line.entry.debit, currency=currency),
                credit=MoneyModel(amount=line.entry.credit, currency=currency),
                balance=MoneyModel.of(line.balance),
                document_id=document_ids.get(line.entry.document_ref or ""),
            )
            for line in statement.lines
        ],
        totals=StatementTotalsRead(
            invoices=MoneyModel.of(statement.totals.invoices),
            credit_notes=MoneyModel.of(statement.totals.credit_notes),
            payments=MoneyModel.of(statement.totals.payments),
            adjustments=MoneyModel.of(statement.totals.adjustments),
        ),
        closing_balance=MoneyModel.of(statement.closing_balance),
    )
