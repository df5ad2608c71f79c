"""Reading and writing the documents index. Flushes; never commits.

Every read takes the account id: another account's document is simply not
found, so an id never reveals that it exists elsewhere.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import ColumnElement, Select, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.documents.model import Document, DocumentStatus, DocumentType
from domain.money import Money
from gateway.db.tables import DocumentRow

#: Stand-ins that sort missing values first (ascending) without NULL rules.
_NO_DATE: Final = date(1, 1, 1)
_NO_AMOUNT: Final = Decimal(-1)
SORT_FIELDS: Final = ("issue_date", "due_date", "amount", "number")


@dataclass(frozen=True, slots=True)
class DocumentFilter:
    types: frozenset[DocumentType] = frozenset()
    statuses: frozenset[DocumentStatus] = frozenset()
    issued_from: date | None = None
    issued_to: date | None = None
    order_id: uuid.UUID | None = None
    number_text: str | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None


@dataclass(frozen=True, slots=True)
class DocumentSort:
    """A sortable field and direction; ties are broken by id, the same way."""

    field: str
    descending: bool

    def expression(self) -> ColumnElement[Any]:
        if self.field == "amount":
            return func.coalesce(DocumentRow.amount, _NO_AMOUNT)
        if self.field == "number":
            return func.coalesce(DocumentRow.number, "")
        if self.field == "due_date":
            return func.coalesce(DocumentRow.due_date, _NO_DATE)
        return func.coalesce(DocumentRow.issue_date, _NO_DATE)

    def position(self, row: DocumentRow) -> list[Any]:
        value: Any
        if self.field == "amount":
            value = str(row.amount if row.amount is not None else _NO_AMOUNT)
        elif self.field == "number":
            value = row.number or ""
        elif self.field == "due_date":
            value = (row.due_date or _NO_DATE).isoformat()
        else:
            value = (row.issue_date or _NO_DATE).isoformat()
        return [value, str(row.id)]

    def parse(self, position: list[Any]) -> tuple[Any, uuid.UUID]:
        value, document_id = position
        parsed: Any
        if self.field == "amount":
            parsed = Decimal(str(value))
            if not parsed.is_finite():
                raise ValueError("not a finite amount")
        elif self.field == "number":
            parsed = str(value)
        else:
            parsed = date.fromisoformat(str(value))
        return parsed, uuid.UUID(str(document_id))


@dataclass(frozen=True, slots=True)
class IndexedDocument:
    """What the sync writes: a document's current state from its source."""

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


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class DocumentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(
        self, account_id: uuid.UUID, document_id: uuid.UUID
    ) -> Document | None:
        row = await self._session.scalar(
            select(DocumentRow).where(
                DocumentRow.id == document_id, DocumentRow.account_id == account_id
            )
        )
        return None if row is None else _document(row)

    async def find(self, source_system: str, external_ref: str) -> Document | None:
        """A document by its source's reference, whatever its account."""
        row = await self._session.scalar(
            select(DocumentRow)
            .where(
                DocumentRow.source_system == source_system,
                DocumentRow.external_ref == external_ref,
            )
            .with_for_update()
        )
        return None if row is None else _document(row)

    async def ids_by_ref(
        self, account_id: uuid.UUID, source_system: str, refs: Iterable[str]
    ) -> dict[str, uuid.UUID]:
        wanted = sorted(set(refs))
        if not wanted:
            return {}
        rows = await self._session.execute(
            select(DocumentRow.external_ref, DocumentRow.id).where(
                DocumentRow.account_id == account_id,
                DocumentRow.source_system == source_system,
                DocumentRow.external_ref.in_(wanted),
            )
        )
        return {str(ref): document_id for ref, document_id in rows}

    async def upsert(self, document: IndexedDocument) -> Document:
        """Insert the document, or update the row its source reference names."""
        values = {
            "account_id": document.account_id,
            "type": document.type.value,
            "number": document.number,
            "status": document.status.value,
            "issue_date": document.issue_date,
            "due_date": document.due_date,
            "amount": None if document.amount is None else document.amount.amount,
            "currency": None if document.amount is None else document.amount.currency,
            "order_id": document.order_id,
            "source_changed_at": document.source_changed_at,
        }
        statement = (
            insert(DocumentRow)
            .values(
                id=uuid.uuid4(),
                source_system=document.source_system,
                external_ref=document.external_ref,
                **values,
            )
            .on_conflict_do_update(
                index_elements=["source_system", "external_ref"],
                set_={**values, "updated_at": func.now()},
            )
            .returning(DocumentRow)
        )
        row = (await self._session.scalars(statement)).one()
        return _document(row)

    async def page(
        self,
        account_id: uuid.UUID,
        filters: DocumentFilter,
        sort: DocumentSort,
        after: tuple[Any, uuid.UUID] | None,
        limit: int,
    ) -> tuple[list[Document], list[Any] | None]:
        """Up to ``limit`` documents after ``after``, and where to go on from."""
        key = sort.expression()
        statement = self._filtered(account_id, filters)
        if after is not None:
            boundary = tuple_(key, DocumentRow.id)
            position = tuple_(*after)
            statement = statement.where(
                boundary < position if sort.descending else boundary > position
            )
        ordering = (
            (key.desc(), DocumentRow.id.desc())
            if sort.descending
            else (key, DocumentRow.id)
        )
        rows = list(
            await self._session.scalars(statement.order_by(*ordering).limit(limit + 1))
        )
        more = len(rows) > limit
        rows = rows[:limit]
        next_position = sort.position(rows[-1]) if more and rows else None
        return [_document(row) for row in rows], next_position

    def _filtered(
        self, account_id: uuid.UUID, filters: DocumentFilter
    ) -> Select[DocumentRow]:
        statement = select(DocumentRow).where(DocumentRow.account_id == account_id)
        if filters.types:
            statement = statement.where(
                DocumentRow.type.in_(sorted(kind.value for kind in filters.types))
            )
        if filters.statuses:
            statement = statement.where(
                DocumentRow.status.in_(sorted(s.value for s in filters.statuses))
            )
        if filters.issued_from is not None:
            statement = statement.where(DocumentRow.issue_date >= filters.issued_from)
        if filters.issued_to is not None:
            statement = statement.where(DocumentRow.issue_date <= filters.issued_to)
        if filters.order_id is not None:
            statement = statement.where(DocumentRow.order_id == filters.order_id)
        if filters.number_text:
            pattern = f"%{_escape_like(filters.number_text)}%"
            statement = statement.where(DocumentRow.number.ilike(pattern))
        if filters.amount_min is not None:
            statement = statement.where(DocumentRow.amount >= filters.amount_min)
        if filters.amount_max is not None:
            statement = statement.where(DocumentRow.amount <= filters.amount_max)
        return statement


def _document(row: DocumentRow) -> Document:
    return Document(
        id=row.id,
        account_id=row.account_id,
        type=DocumentType(row.type),
        number=row.number,
        status=DocumentStatus(row.status),
        issue_date=row.issue_date,
        due_date=row.due_date,
        amount=None
        if row.amount is None or row.currency is None
        else Money(row.amount, row.currency),
        order_id=row.order_id,
        source_system=row.source_system,
        external_ref=row.external_ref,
        source_changed_at=row.source_changed_at,
        indexed_at=row.created_at,
    )
