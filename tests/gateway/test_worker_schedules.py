"""Which jobs ``portico worker`` runs for a deployment's connectors."""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.backends import Backends
from gateway.settings import Settings
from gateway.worker import worker_schedules
from tests.support.backends import InMemoryErp


def test_an_erp_with_documents_and_claims_gets_their_sync_jobs(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    backends = Backends(erp=InMemoryErp(), erp_name="erp")

    names = [
        schedule.name for schedule in worker_schedules(settings, sessions, backends)
    ]

    assert {
        "orders.submit",
        "orders.sync",
        "documents.sync",
        "claims.erp",
        "claims.sync",
    } <= set(names)


def test_without_an_erp_only_the_event_jobs_run(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    names = [
        schedule.name for schedule in worker_schedules(settings, sessions, Backends())
    ]

    assert names == ["events.sequence", "idempotency.purge", "webhooks.fanout"]
