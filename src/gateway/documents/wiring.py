"""Building the documents feature from a deployment's connectors."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.ports import ErpDocumentsPort
from gateway.backends import Backends
from gateway.documents.service import DocumentService
from gateway.documents.sync import DocumentSync


def document_service(backends: Backends) -> DocumentService | None:
    """The service for ``app.state.documents``; None without an ERP that
    offers documents (the index still answers, downloads get 503)."""
    erp: object = backends.erp
    if not isinstance(erp, ErpDocumentsPort):
        return None
    return DocumentService(erp, backends.erp_name)


def document_sync(
    sessions: async_sessionmaker[AsyncSession], backends: Backends, batch: int
) -> DocumentSync | None:
    """The poller for the worker's ``documents.sync`` schedule, if any."""
    erp: object = backends.erp
    if not isinstance(erp, ErpDocumentsPort):
        return None
    return DocumentSync(sessions, erp, backends.erp_name, batch)
