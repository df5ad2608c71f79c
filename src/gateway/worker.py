"""``portico worker``: the background half of Portico.

Runs, side by side, until SIGTERM or Ctrl-C:

- the sequencer, giving committed events their commit-order position;
- the Kafka relay, when a broker is configured;
- webhook fan-out (a delivery per matching endpoint) and dispatch (signed
  requests, retries with backoff, several replicas without double sends);
- order submission to the ERP (leased, retried with backoff);
- order status sync back from the ERP (one poller per ERP across replicas);
- the document index sync, and the claims' ERP tasks (filing complaints,
  comments, withdrawals) and decision sync, where the ERP offers them;
- removal of expired idempotency keys and of published events past retention.

The sequencer and the relay wake on PostgreSQL notifications, so an event
reaches Kafka a few milliseconds after its transaction commits; they also run
on a timer, so a lost notification only delays them.

Any number of worker replicas may run; they share the work through
PostgreSQL row locks and advisory locks, never through memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.api import idempotency
from gateway.backends import Backends, build_backends
from gateway.claims.wiring import claim_jobs
from gateway.db.engine import create_engine, plain_url, session_factory
from gateway.documents.wiring import document_sync
from gateway.events.notifier import Notifier
from gateway.events.outbox import OUTBOX_CHANNEL
from gateway.events.relay import KafkaRelay
from gateway.events.sequencer import EVENTS_CHANNEL, Sequencer
from gateway.logs import get_logger
from gateway.orders.submission import OrderSubmitter
from gateway.orders.sync import OrderSync
from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.webhooks.dispatcher import WebhookDispatcher
from gateway.webhooks.fanout import WebhookFanout
from gateway.webhooks.messages import DELIVERIES_CHANNEL

log = get_logger(__name__)

PURGE_INTERVAL_SECONDS = 3600.0


Job = Callable[[], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class Schedule:
    name: str
    seconds: float
    job: Job
    #: Runs again at once, without waiting, while the job reports more work.
    drain: bool = False
    #: Wakes early when this notifier fires.
    wake: Notifier | None = None


async def _run(schedule: Schedule, stop: asyncio.Event) -> None:
    """Run a job on its schedule until ``stop``; a failure is logged, not fatal."""
    while not stop.is_set():
        try:
            done = await schedule.job()
        except Exception:
            log.exception("worker.job_failed", job=schedule.name)
            done = None
        if schedule.drain and isinstance(done, int) and done > 0:
            continue
        waits: list[asyncio.Future[bool]] = [asyncio.ensure_future(stop.wait())]
        if schedule.wake is not None:
            waits.append(asyncio.ensure_future(schedule.wake.wait(schedule.seconds)))
        try:
            await asyncio.wait(
                waits, timeout=schedule.seconds, return_when="FIRST_COMPLETED"
            )
        finally:
            for waiting in waits:
                waiting.cancel()


def worker_schedules(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    backends: Backends,
    outbox_wake: Notifier | None = None,
    events_wake: Notifier | None = None,
    relay: KafkaRelay | None = None,
    dispatcher: WebhookDispatcher | None = None,
    deliveries_wake: Notifier | None = None,
) -> list[Schedule]:
    sequencer = Sequencer(sessions)
    schedules = [
        Schedule(
            "events.sequence", 1.0, sequencer.run_once, drain=True, wake=outbox_wake
        ),
        Schedule(
            "idempotency.purge",
            PURGE_INTERVAL_SECONDS,
            lambda: idempotency.purge_expired(sessions),
        ),
    ]
    schedules.append(
        Schedule(
            "webhooks.fanout",
            1.0,
            WebhookFanout(sessions, settings.webhooks.fanout_batch).run_once,
            drain=True,
            wake=events_wake,
        )
    )
    if dispatcher is not None:
        schedules.append(
            Schedule(
                "webhooks.dispatch",
                1.0,
                dispatcher.run_once,
                drain=True,
                wake=deliveries_wake,
            )
        )
    if relay is not None:
        schedules += [
            Schedule("events.relay", 1.0, relay.run_once, drain=True, wake=events_wake),
            Schedule("events.purge", PURGE_INTERVAL_SECONDS, relay.purge_published),
        ]
    if backends.erp is not None:
        submitter = OrderSubmitter(
            sessions, backends.erp, backends.erp_name, settings.worker
        )
        sync = OrderSync(
            sessions, backends.erp, backends.erp_name, settings.worker.sync_batch
        )
        schedules += [
            Schedule(
                "orders.submit",
                settings.worker.submit_interval_seconds,
                submitter.run_once,
                drain=True,
            ),
            Schedule(
                "orders.sync",
                settings.worker.sync_interval_seconds,
                sync.run_once,
                drain=True,
            ),
        ]
    schedules += _paperwork_schedules(settings, sessions, backends)
    return schedules


def _paperwork_schedules(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    backends: Backends,
) -> list[Schedule]:
    """Documents and claims, for an ERP that keeps them."""
    worker = settings.worker
    schedules: list[Schedule] = []
    documents = document_sync(sessions, backends, worker.sync_batch)
    if documents is not None:
        schedules.append(
            Schedule(
                "documents.sync",
                worker.sync_interval_seconds,
                documents.run_once,
                drain=True,
            )
        )
    claims = claim_jobs(sessions, backends, settings.claims, worker.sync_batch)
    if claims is not None:
        tasks, decisions = claims
        schedules += [
            Schedule(
                "claims.erp", worker.submit_interval_seconds, tasks.run_once, drain=True
            ),
            Schedule(
                "claims.sync",
                worker.sync_interval_seconds,
                decisions.run_once,
                drain=True,
            ),
        ]
    return schedules


async def run_worker(
    runtime: Runtime, stop: asyncio.Event | None = None, *, signals: bool = True
) -> None:
    """Run every schedule until ``stop`` is set (or SIGINT/SIGTERM with
    ``signals``; the demo runs the worker beside uvicorn, which owns them)."""
    stop = stop or asyncio.Event()
    if signals:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, stop.set)
    settings = runtime.settings
    engine = create_engine(settings.database, runtime.database_url)
    sessions = session_factory(engine)
    backends = build_backends(settings)
    outbox_wake = Notifier(plain_url(runtime.database_url), OUTBOX_CHANNEL)
    events_wake = Notifier(plain_url(runtime.database_url), EVENTS_CHANNEL)
    relay = (
        None
        if settings.kafka.bootstrap_servers is None
        else KafkaRelay(sessions, settings.kafka)
    )
    deliveries_wake = Notifier(plain_url(runtime.database_url), DELIVERIES_CHANNEL)
    dispatcher = WebhookDispatcher(sessions, settings.webhooks)
    outbox_wake.start()
    events_wake.start()
    deliveries_wake.start()
    try:
        schedules = worker_schedules(
            settings,
            sessions,
            backends,
            outbox_wake,
            events_wake,
            relay,
            dispatcher,
            deliveries_wake,
        )
        log.info("worker.started", jobs=[schedule.name for schedule in schedules])
        await asyncio.gather(*(_run(schedule, stop) for schedule in schedules))
    finally:
        await outbox_wake.stop()
        await events_wake.stop()
        await deliveries_wake.stop()
        await dispatcher.aclose()
        if relay is not None:
            await relay.close()
        await backends.aclose()
        await engine.dispose()
        log.info("worker.stopped")
