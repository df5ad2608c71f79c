"""Indexing the ERP's documents.

The poller asks the ERP for documents changed since a cursor kept in
PostgreSQL (stream ``documents`` in ``sync_cursors``), files each under the
account its customer is linked to (``external_refs``, kind ``account``),
links it to the Portico order it belongs to, upserts it and writes its event,
then stores the new cursor, all in one transaction: a crash repeats a poll,
it never skips one. A transaction-level advisory lock lets one worker
replica poll a given ERP at a time.

A document of a customer that no account is linked to is passed over; the
cursor still moves on.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.documents.erp import ErpDocument
from domain.documents.model import Document, DocumentStatus
from domain.ports import ErpDocumentsPort
from gateway.db.sync_cursors import ChangeStream
from gateway.db.tables import OrderRow
from gateway.documents.repository import DocumentRepository, IndexedDocument
from gateway.documents.schemas import document_read
from gateway.events.outbox import record_event
from gateway.logs import get_logger
from gateway.references import EntityKind, ReferenceRepository

log = get_logger(__name__)

STREAM = "documents"
_FINAL = frozenset({DocumentStatus.ISSUED, DocumentStatus.PAID})


class DocumentSync:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        erp: ErpDocumentsPort,
        erp_name: str,
        batch: int,
    ) -> None:
        self._sessions = sessions
        self._erp = erp
        self._erp_name = erp_name
        self._batch = batch
        self._stream = ChangeStream(erp_name, STREAM)

    async def run_once(self) -> int | None:
        """Apply one page of changes. None when another replica holds the lock."""
        async with self._stream.poll(self._sessions) as poll:
            if poll is None:
                return None
            page = await self._erp.document_changes(poll.cursor, self._batch)
            for document in page.documents:
                await self._apply(poll.session, document)
            poll.advance(page.cursor)
        return len(page.documents)

    async def _apply(self, session: AsyncSession, document: ErpDocument) -> None:
        references = ReferenceRepository(session)
        account_id = await references.entity_id(
            EntityKind.ACCOUNT, self._erp_name, document.customer_ref
        )
        if account_id is None:
            log.debug(
                "document.sync.unlinked_customer",
                external_ref=document.external_ref,
                customer_ref=document.customer_ref,
            )
            return
        repository = DocumentRepository(session)
        before = await repository.find(self._erp_name, document.external_ref)
        after = await repository.upsert(
            IndexedDocument(
                account_id=account_id,
                type=document.type,
                number=document.number,
                status=document.status,
                issue_date=document.issue_date,
                due_date=document.due_date,
                amount=document.amount,
                order_id=await self._order(session, account_id, document),
                source_system=self._erp_name,
                external_ref=document.external_ref,
                source_changed_at=document.changed_at,
            )
        )
        if before is None:
            await references.link(
                EntityKind.DOCUMENT, after.id, self._erp_name, document.external_ref
            )
        event_type = _event_type(before, after)
        if event_type is None:
            return
        await record_event(
            session,
            event_type=event_type,
            account_id=account_id,
            subject=str(after.id),
            data=document_read(after).model_dump(mode="json"),
        )
        log.info(
            event_type,
            document_id=str(after.id),
            type=after.type.value,
            status=after.status.value,
        )

    async def _order(
        self, session: AsyncSession, account_id: uuid.UUID, document: ErpDocument
    ) -> uuid.UUID | None:
        """The account's Portico order the document belongs to, if any."""
        candidates: list[uuid.UUID] = []
        if document.order_external_id is not None:
            linked = await ReferenceRepository(session).entity_id(
                EntityKind.ORDER, self._erp_name, document.order_external_id
            )
            if linked is not None:
                candidates.append(linked)
        if document.order_id is not None:
            candidates.append(document.order_id)
        for order_id in candidates:
            owner = await session.scalar(
                select(OrderRow.account_id).where(OrderRow.id == order_id)
            )
            if owner == account_id:
                return order_id
        return None


def _event_type(before: Document | None, after: Document) -> str | None:
    """``document.issued`` the first time a document is issued (or paid),
    ``document.updated`` for any other change a customer can see."""
    if after.status in _FINAL and (before is None or before.status not in _FINAL):
        return "document.issued"
    if before is None:
        return "document.updated"
    visible = (
        before.status,
        before.number,
        before.amount,
        before.issue_date,
        before.due_date,
        before.order_id,
    )
    now = (
        after.status,
        after.number,
        after.amount,
        after.issue_date,
        after.due_date,
        after.order_id,
    )
    return "document.updated" if visible != now else None
