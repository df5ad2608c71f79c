"""``portico demo``: the whole chain on TPC-H data, on the embedded defaults.

It starts PostgreSQL (embedded unless configured) with a database of the
demo's own made anew each run, a local Tryton seeded from TPC-H, the
embedded Kafka-protocol broker, a dealer webhook receiver that verifies
signatures, the gateway and its worker; replays a slice of TPC-H's order
history through the API (:mod:`gateway.demo.replay`); prints what happened;
and leaves the stack running with a key to explore, unless told to exit.

The demo's database is separate (``<database>_demo`` on the same server)
because its Tryton starts from the same snapshot every run: Portico's
records of an earlier run would point at sales that no longer exist.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
import time
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
from pydantic import SecretStr
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from sqlalchemy.engine import make_url

from connectors.tryton.rpc import TrytonRpc
from gateway.api.app import create_app
from gateway.db.engine import create_engine, plain_url, session_factory
from gateway.db.migrations import upgrade_to_head
from gateway.demo.plan import ReplayPlan, plan_replay
from gateway.demo.receiver import DealerReceiver, serve_receiver
from gateway.demo.replay import ReplayError, ReplayResult, run_replay
from gateway.demo.serving import serve_on_loopback
from gateway.demo.summary import DemoSummary, kafka_messages, summarise
from gateway.events.catalog import EVENT_FAMILIES
from gateway.logs import configure_logging, get_logger
from gateway.peers.accounts import link_tpch_accounts
from gateway.peers.kafka import KafkaPeer
from gateway.peers.tpch import load_tpch
from gateway.peers.tryton import TrytonPeer
from gateway.peers.wiring import ERP_NAME, with_tryton
from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.worker import run_worker

__all__ = ["DEFAULT_ORDERS", "run_demo"]

log = get_logger(__name__)

#: Orders replayed by default: about three minutes on two cores, most of it
#: Tryton (on SQLite) confirming, shipping and invoicing them one by one.
DEFAULT_ORDERS = 100
_KAFKA_PARTITIONS = 3


def run_demo(
    runtime: Runtime, *, port: int, orders: int, exit_after: bool, started: float
) -> None:
    """Run the demo; exits non-zero when the replay saw any error."""
    asyncio.run(
        _demo(runtime, port=port, orders=orders, exit_after=exit_after, started=started)
    )


class _RichProgress:
    """Replay phases as rich progress bars, one line each."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress

    def phase(self, description: str, total: int) -> Callable[[int], None]:
        task = self._progress.add_task(description, total=max(total, 1))

        def update(done: int) -> None:
            self._progress.update(task, completed=done if total else 1)

        return update


def _free_port(preferred: int) -> int:
    """``preferred`` when it is free, else any free port (0 asks for any)."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", preferred))
        except OSError:
            probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _fresh_database(url: str) -> str:
    """Drop and create ``<database>_demo`` beside ``url``'s; return its URL."""
    parsed = make_url(url)
    name = f"{parsed.database}_demo"
    admin = await asyncpg.connect(plain_url(url))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    demo_url = parsed.set(database=name).render_as_string(hide_password=False)
    await asyncio.to_thread(upgrade_to_head, demo_url)
    return demo_url


def _demo_settings(settings: Settings, erp: TrytonPeer, broker: KafkaPeer) -> Settings:
    """The deployment's settings, bound to the demo's peers and paced for it."""
    bound = with_tryton(
        settings,
        erp,
        # Tryton on SQLite takes 0.1-0.3 s a write; a sale is a dozen.
        deadline_seconds=30.0,
        complaint_type_id=erp.manifest.complaint_type_id,
    )
    updates: dict[str, Any] = {
        "kafka": settings.kafka.model_copy(
            update={"bootstrap_servers": broker.bootstrap_servers}
        ),
        # The dealer receiver listens on loopback over plain http.
        "webhooks": settings.webhooks.model_copy(
            update={"allow_http": True, "allowed_targets": ["127.0.0.1"]}
        ),
        "worker": settings.worker.model_copy(
            update={"submit_interval_seconds": 0.5, "sync_interval_seconds": 1.0}
        ),
    }
    if "PORTICO_LOG__LEVEL" not in os.environ:
        # Progress bars, not request logs; warnings and errors still show.
        updates["log"] = settings.log.model_copy(update={"level": "WARNING"})
    return bound.model_copy(update=updates)


async def _demo(
    runtime: Runtime, *, port: int, orders: int, exit_after: bool, started: float
) -> None:
    peers = runtime.settings.peers
    prefix = runtime.settings.kafka.topic_prefix
    topics = [f"{prefix}{family}" for family in EVENT_FAMILIES]
    console = Console()
    async with (
        TrytonPeer(peers.cache_dir, scale=peers.scale) as erp,
        KafkaPeer(topics=dict.fromkeys(topics, _KAFKA_PARTITIONS)) as broker,
    ):
        settings = _demo_settings(runtime.settings, erp, broker)
        configure_logging(settings)
        database_url = await _fresh_database(runtime.database_url)
        settings = settings.model_copy(
            update={
                "database": settings.database.model_copy(
                    update={"url": SecretStr(database_url)}
                )
            }
        )
        runtime = dataclasses.replace(
            runtime, settings=settings, database_url=database_url
        )
        engine = create_engine(settings.database, database_url)
        sessions = session_factory(engine)
        tpch = await asyncio.to_thread(load_tpch, peers.cache_dir, erp.scale)
        accounts = await link_tpch_accounts(sessions, tpch, erp.manifest, ERP_NAME)
        plan = plan_replay(tpch, erp.manifest, orders)
        requested, port = port, _free_port(port)
        if requested and port != requested:
            log.warning("demo.port_taken", requested=requested, using=port)

        stop_worker = asyncio.Event()
        receiver = DealerReceiver()
        worker = asyncio.create_task(run_worker(runtime, stop_worker, signals=False))
        try:
            async with (
                serve_receiver(receiver) as receiver_url,
                serve_on_loopback(create_app(settings), port) as (base_url, serving),
                httpx.AsyncClient(base_url=base_url, timeout=60) as api,
                httpx.AsyncClient(base_url=erp.url, timeout=60) as erp_http,
            ):
                ready = time.perf_counter() - started
                console.print(
                    f"Portico is up at {base_url} in {ready:.1f} s; replaying "
                    f"{len(plan.orders)} TPC-H orders of {len(plan.custkeys)} dealers",
                    soft_wrap=True,
                )
                if plan.left_out:
                    console.print(
                        f"Left out {len(plan.left_out)} TPC-H orders that list one "
                        "part on two lines (Portico takes one line per SKU): "
                        + ", ".join(map(str, plan.left_out)),
                        soft_wrap=True,
                    )
                rpc = TrytonRpc(
                    erp_http, erp.database, erp.admin_login, erp.admin_password
                )
                await rpc.login()
                result = await _replay(
                    console, plan, accounts, api, rpc, sessions, receiver, receiver_url
                )
                summary = await summarise(
                    sessions,
                    result,
                    scale=erp.scale,
                    orders_planned=len(plan.orders),
                    receiver=receiver.tally,
                    kafka_count=await kafka_messages(broker.bootstrap_servers, topics),
                )
                errors = [*summary.errors, *await _self_check(api, result)]
                _print(
                    console,
                    summary,
                    errors,
                    base_url=base_url,
                    erp=erp,
                    broker=broker,
                    key=_explore_key(result),
                    seconds=time.perf_counter() - started,
                    stopping=exit_after or bool(errors),
                )
                if errors:
                    raise SystemExit(f"the demo saw {len(errors)} errors")
                if not exit_after:
                    await serving  # uvicorn ends it on Ctrl-C or SIGTERM
        finally:
            stop_worker.set()
            await worker
            await engine.dispose()


async def _replay(
    console: Console,
    plan: ReplayPlan,
    accounts: dict[int, Any],
    api: httpx.AsyncClient,
    rpc: TrytonRpc,
    sessions: Any,
    receiver: DealerReceiver,
    receiver_url: str,
) -> ReplayResult:
    columns = (
        TextColumn("{task.description:<38}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        try:
            return await run_replay(
                plan,
                accounts,
                api=api,
                rpc=rpc,
                sessions=sessions,
                receiver=receiver,
                receiver_url=receiver_url,
                progress=_RichProgress(progress),
                kafka=True,
            )
        except ReplayError as error:
            raise SystemExit(f"the demo could not finish: {error}") from None


def _explore_key(result: ReplayResult) -> str:
    first = min(result.dealers)
    return result.dealers[first].key


async def _self_check(api: httpx.AsyncClient, result: ReplayResult) -> list[str]:
    """What a newcomer tries first must answer: health, ``/v1/me``, an order."""
    dealer = result.dealers[min(result.dealers)]
    checks = {
        "/healthz": await api.get("/healthz"),
        "/v1/me": await api.get("/v1/me", headers=dealer.headers),
    }
    for orderkey, order_id in list(result.order_ids.items())[:1]:
        owner = result.dealers[result.owners[orderkey]]
        checks["order detail"] = await api.get(
            f"/v1/orders/{order_id}", headers=owner.headers
        )
    return [
        f"self-check {name}: {response.status_code}"
        for name, response in checks.items()
        if response.status_code != 200
    ]


def _print(
    console: Console,
    summary: DemoSummary,
    errors: list[str],
    *,
    base_url: str,
    erp: TrytonPeer,
    broker: KafkaPeer,
    key: str,
    seconds: float,
    stopping: bool,
) -> None:
    auth = f"-H 'Authorization: Bearer {key}'"
    status = (
        f"The demo saw {len(errors)} errors and is stopping."
        if errors
        else "Portico passed the demo and is stopping (--exit)."
        if stopping
        else "Portico is running. Press Ctrl-C to stop it."
    )
    lines = [
        "",
        *summary.lines(),
        *(f"    - {error}" for error in errors[len(summary.errors) :]),
        "",
        status,
        f"  API:       {base_url}",
        f"  Docs:      {base_url}/docs",
        f"  ERP:       Tryton at {erp.url}",
        f"  Kafka:     {broker.bootstrap_servers} (events as CloudEvents)",
        f"  API key:   {key}",
        f"  Wall time: {seconds:.1f} s",
        "",
        f"  Try:       curl {auth} {base_url}/v1/orders",
        f"             curl {auth} '{base_url}/v1/reports/orders?group_by=status'",
        "",
    ]
    console.print("\n".join(lines), highlight=False, markup=False, soft_wrap=True)
