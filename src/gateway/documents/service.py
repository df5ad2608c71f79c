"""Document use cases that need the ERP: the content and the statement.

The index itself is read straight from PostgreSQL by the routes; only a
download and a statement ask the ERP, each under the connector's deadline.
"""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.accounts.model import Account
from domain.documents.model import Document, DocumentContent
from domain.documents.statement import Statement, build_statement, require_period
from domain.errors import ConflictError, NotFoundError
from domain.ports import ErpDocumentsPort
from gateway.db.engine import transaction
from gateway.documents.repository import DocumentRepository
from gateway.logs import get_logger
from gateway.references import EntityKind, ReferenceRepository

log = get_logger(__name__)


class DocumentService:
    """Documents as the ERP ``erp_name`` renders and accounts for them."""

    def __init__(self, erp: ErpDocumentsPort, erp_name: str) -> None:
        self._erp = erp
        self._erp_name = erp_name

    async def open_content(self, document: Document) -> DocumentContent:
        """Start streaming the document's rendering from its source.

        The caller closes the result (``aclose``).
        """
        if document.source_system != self._erp_name:
            raise NotFoundError("document content", document.id)
        content = await self._erp.open_document(document.external_ref)
        log.info(
            "document.content.opened",
            document_id=str(document.id),
            media_type=content.media_type,
            size=content.size,
        )
        return content

    async def statement(
        self,
        sessions: async_sessionmaker[AsyncSession],
        account: Account,
        start: date,
        end: date,
    ) -> tuple[Statement, dict[str, uuid.UUID]]:
        """The account's statement for ``start``..``end`` from the ERP's
        ledger, and the indexed document id of each line's document ref."""
        require_period(start, end)
        async with transaction(sessions) as session:
            customer_ref = await self._customer_ref(session, account)
        ledger = await self._erp.customer_ledger(customer_ref, start, end)
        statement = build_statement(ledger)
        refs = [e.document_ref for e in ledger.entries if e.document_ref is not None]
        async with transaction(sessions) as session:
            document_ids = await DocumentRepository(session).ids_by_ref(
                account.id, self._erp_name, refs
            )
        return statement, document_ids

    async def _customer_ref(self, session: AsyncSession, account: Account) -> str:
        ref = await ReferenceRepository(session).external_id(
            EntityKind.ACCOUNT, account.id, self._erp_name
        )
        if ref is None:
            raise ConflictError(
                "this account is not linked to a customer in the ERP yet; "
                "ask the supplier to link it"
            )
        return ref
