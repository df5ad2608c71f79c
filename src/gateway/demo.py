"""``portico demo``: Portico on its embedded defaults, in front of a real ERP.

It starts PostgreSQL (embedded unless configured), applies the schema, starts
a local Tryton seeded from TPC-H, opens a Portico account for every TPC-H
customer linked to its Tryton party, issues a key for one of them, serves the
API, checks that ``/healthz``, ``/v1/me`` and a catalog read answer with that
key, and prints what a newcomer needs to explore.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import uvicorn

from domain.accounts.scopes import DEALER_SCOPES
from gateway.accounts import service
from gateway.api.app import create_app
from gateway.db.engine import create_engine, session_factory
from gateway.events.catalog import EVENT_FAMILIES
from gateway.logs import get_logger
from gateway.peers.accounts import link_tpch_accounts
from gateway.peers.kafka import KafkaPeer
from gateway.peers.tpch import load_tpch
from gateway.peers.tryton import TrytonPeer
from gateway.peers.wiring import ERP_NAME, with_tryton
from gateway.runtime import Runtime
from gateway.worker import run_worker

log = get_logger(__name__)

#: The TPC-H customer whose account the demo's key belongs to.
DEMO_CUSTKEY = 1
DEMO_PARTKEY = 1


@dataclass(frozen=True, slots=True)
class DemoAccess:
    key: str
    account_name: str
    sku: str
    accounts: int


def run_demo(runtime: Runtime, *, port: int, exit_after: bool, started: float) -> None:
    asyncio.run(_demo(runtime, port=port, exit_after=exit_after, started=started))


def _free_port(preferred: int) -> int:
    """``preferred`` when it is free, else any free port (0 asks for any)."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", preferred))
        except OSError:
            probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _demo_access(runtime: Runtime, peer: TrytonPeer) -> DemoAccess:
    engine = create_engine(runtime.settings.database, runtime.database_url)
    sessions = session_factory(engine)
    try:
        tpch = await asyncio.to_thread(
            load_tpch,
            runtime.settings.peers.cache_dir,
            peer.scale,
            include_orders=False,
        )
        accounts = await link_tpch_accounts(sessions, tpch, peer.manifest, ERP_NAME)
        customer = next(c for c in tpch.customers if c.custkey == DEMO_CUSTKEY)
        created = await service.create_key(
            sessions, accounts[DEMO_CUSTKEY], DEALER_SCOPES, name="demo"
        )
        return DemoAccess(
            key=created.token,
            account_name=customer.name,
            sku=peer.manifest.parts[DEMO_PARTKEY].code,
            accounts=len(accounts),
        )
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def _serving(app: object, port: int) -> AsyncIterator[asyncio.Task[None]]:
    """Serve ``app`` until the block ends, or until Ctrl-C ends the task."""
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        server_header=False,
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if serving.done():
                await serving
                raise SystemExit("the gateway did not start; see the log above")
            await asyncio.sleep(0.05)
        yield serving
    finally:
        server.should_exit = True
        await serving


async def _demo(
    runtime: Runtime, *, port: int, exit_after: bool, started: float
) -> None:
    peers = runtime.settings.peers
    prefix = runtime.settings.kafka.topic_prefix
    topics = {f"{prefix}{family}": 3 for family in EVENT_FAMILIES}
    async with (
        TrytonPeer(peers.cache_dir, scale=peers.scale) as erp,
        KafkaPeer(topics=topics) as broker,
    ):
        settings = with_tryton(runtime.settings, erp).model_copy(
            update={
                "kafka": runtime.settings.kafka.model_copy(
                    update={"bootstrap_servers": broker.bootstrap_servers}
                )
            }
        )
        runtime = dataclasses.replace(runtime, settings=settings)
        access = await _demo_access(runtime, erp)
        requested, port = port, _free_port(port)
        if requested and port != requested:
            log.warning("demo.port_taken", requested=requested, using=port)
        stop_worker = asyncio.Event()
        worker = asyncio.create_task(run_worker(runtime, stop_worker, signals=False))
        try:
            async with _serving(create_app(settings), port) as serving:
                base_url = f"http://127.0.0.1:{port}"
                checks = await _self_check(base_url, access)
                _print_summary(
                    base_url,
                    access,
                    erp,
                    broker,
                    time.perf_counter() - started,
                    stopping=exit_after,
                )
                failed = [name for name, ok in checks.items() if not ok]
                if failed:
                    raise SystemExit(f"self-check failed: {', '.join(failed)}")
                if not exit_after:
                    await serving  # uvicorn ends it on Ctrl-C or SIGTERM
        finally:
            stop_worker.set()
            await worker


async def _self_check(base_url: str, access: DemoAccess) -> dict[str, bool]:
    headers = {"Authorization": f"Bearer {access.key}"}
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        health = await client.get("/healthz")
        me = await client.get("/v1/me", headers=headers)
        product = await client.get(
            f"/v1/catalog/products/{access.sku}", headers=headers
        )
    return {
        "/healthz": health.status_code == 200,
        "/v1/me": me.status_code == 200,
        "catalog": product.status_code == 200 and product.json().get("complete"),
    }


def _print_summary(
    base_url: str,
    access: DemoAccess,
    peer: TrytonPeer,
    broker: KafkaPeer,
    seconds: float,
    *,
    stopping: bool,
) -> None:
    auth = f"-H 'Authorization: Bearer {access.key}'"
    lines = [
        "",
        "Portico passed its self-check and is stopping (--exit)."
        if stopping
        else "Portico is running. Press Ctrl-C to stop it.",
        f"  API:       {base_url}",
        f"  Docs:      {base_url}/docs",
        f"  ERP:       Tryton at {peer.url}, seeded from TPC-H "
        f"(scale {peer.scale:g}, {access.accounts} dealer accounts linked)",
        f"  Kafka:     {broker.bootstrap_servers} (events as CloudEvents)",
        f"  Account:   {access.account_name}",
        f"  API key:   {access.key}",
        f"  Ready in:  {seconds:.1f} s",
        "",
        f"  Try:       curl {auth} {base_url}/v1/me",
        f"             curl {auth} {base_url}/v1/catalog/products/{access.sku}",
        "",
    ]
    print("\n".join(lines), flush=True)  # noqa: T201 - the demo's output is for people
