"""Building the claims feature from a deployment's connectors and store."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.ports import AttachmentStorePort, ErpClaimsPort
from gateway.backends import Backends
from gateway.claims.service import ClaimService, Clock
from gateway.claims.settings import ClaimsSettings
from gateway.claims.sync import ClaimSync
from gateway.claims.tasks import ClaimErpWorker


def claim_service(
    backends: Backends,
    store: AttachmentStorePort,
    settings: ClaimsSettings,
    clock: Clock | None = None,
) -> ClaimService:
    """The service for ``app.state.claims``. Without an ERP that takes
    claims, claims are kept in Portico alone."""
    offered: object = backends.erp
    erp = offered if isinstance(offered, ErpClaimsPort) else None
    if clock is None:
        return ClaimService(erp, backends.erp_name, store, settings)
    return ClaimService(erp, backends.erp_name, store, settings, clock)


def claim_jobs(
    sessions: async_sessionmaker[AsyncSession],
    backends: Backends,
    settings: ClaimsSettings,
    sync_batch: int,
) -> tuple[ClaimErpWorker, ClaimSync] | None:
    """The worker's ``claims.erp`` task runner and ``claims.sync`` poller."""
    erp: object = backends.erp
    if not isinstance(erp, ErpClaimsPort):
        return None
    return (
        ClaimErpWorker(sessions, erp, backends.erp_name, settings),
        ClaimSync(sessions, erp, backends.erp_name, sync_batch),
    )
