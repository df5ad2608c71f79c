"""``portico worker``: the background half of Portico.

Runs, side by side, until SIGTERM or Ctrl-C:

- order submission to the ERP (leased, retried with backoff);
- order status sync back from the ERP (one poller per ERP across replicas);
- removal of expired idempotency keys.

Any number of worker replicas may run; they share the work through
PostgreSQL row locks and advisory locks, never through memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.api import idempotency
from gateway.backends import Backends, build_backends
from gateway.db.engine import create_engine, session_factory
from gateway.logs import get_logger
from gateway.orders.submission import OrderSubmitter
from gateway.orders.sync import OrderSync
from gateway.runtime import Runtime
from gateway.settings import Settings

log = get_logger(__name__)

PURGE_INTERVAL_SECONDS = 3600.0


async def _every(
    name: str, seconds: float, job: Callable[[], Awaitable[object]], stop: asyncio.Event
) -> None:
    """Run ``job`` every ``seconds`` until ``stop``; a failure is logged, not fatal."""
    while not stop.is_set():
        try:
            await job()
        except Exception:
            log.exception("worker.job_failed", job=name)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)


def worker_jobs(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    backends: Backends,
) -> list[tuple[str, float, Callable[[], Awaitable[object]]]]:
    jobs: list[tuple[str, float, Callable[[], Awaitable[object]]]] = [
        (
            "idempotency.purge",
            PURGE_INTERVAL_SECONDS,
            lambda: idempotency.purge_expired(sessions),
        ),
    ]
    if backends.erp is not None:
        submitter = OrderSubmitter(
            sessions, backends.erp, backends.erp_name, settings.worker
        )
        sync = OrderSync(
            sessions, backends.erp, backends.erp_name, settings.worker.sync_batch
        )
        jobs += [
            (
                "orders.submit",
                settings.worker.submit_interval_seconds,
                submitter.run_once,
            ),
            ("orders.sync", settings.worker.sync_interval_seconds, sync.run_once),
        ]
    return jobs


async def run_worker(runtime: Runtime, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    engine = create_engine(runtime.settings.database, runtime.database_url)
    backends = build_backends(runtime.settings)
    try:
        jobs = worker_jobs(runtime.settings, session_factory(engine), backends)
        log.info("worker.started", jobs=[name for name, _, _ in jobs])
        await asyncio.gather(
            *(_every(name, seconds, job, stop) for name, seconds, job in jobs)
        )
    finally:
        await backends.aclose()
        await engine.dispose()
        log.info("worker.stopped")
