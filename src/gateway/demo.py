"""``portico demo``: the gateway on its embedded defaults, ready to explore.

It starts PostgreSQL (embedded unless configured), applies the schema, opens
a demo dealer account with a key holding every dealer scope, serves the API,
proves that ``/healthz`` and ``/v1/me`` answer with that key, and prints what a
newcomer needs to try it.
"""

from __future__ import annotations

import asyncio
import socket
import time

import httpx
import uvicorn
from sqlalchemy import select

from domain.accounts.model import NewAccount
from domain.accounts.scopes import DEALER_SCOPES
from gateway.accounts import service
from gateway.api.app import create_app
from gateway.db.engine import create_engine, session_factory, transaction
from gateway.db.tables import AccountRow
from gateway.logs import get_logger
from gateway.runtime import Runtime

log = get_logger(__name__)

DEMO_ACCOUNT = "Portico Demo Dealer"


def run_demo(runtime: Runtime, *, port: int, exit_after: bool) -> None:
    asyncio.run(_demo(runtime, port=port, exit_after=exit_after))


def _free_port(preferred: int) -> int:
    """``preferred`` when it is free, else any free port (0 asks for any)."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", preferred))
        except OSError:
            probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _demo_key(runtime: Runtime) -> str:
    engine = create_engine(runtime.settings.database, runtime.database_url)
    sessions = session_factory(engine)
    try:
        async with transaction(sessions) as session:
            account_id = await session.scalar(
                select(AccountRow.id).where(AccountRow.name == DEMO_ACCOUNT).limit(1)
            )
        if account_id is None:
            new = NewAccount.create(
                name=DEMO_ACCOUNT, timezone="Europe/Berlin", currency="EUR"
            )
            account_id = (await service.open_account(sessions, new)).id
        created = await service.create_key(
            sessions, account_id, DEALER_SCOPES, name="demo"
        )
        return created.token
    finally:
        await engine.dispose()


async def _demo(runtime: Runtime, *, port: int, exit_after: bool) -> None:
    started = time.perf_counter()
    key = await _demo_key(runtime)
    port = _free_port(port)
    config = uvicorn.Config(
        create_app(runtime.settings),
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        server_header=False,
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            await serving
            raise SystemExit("the gateway did not start; see the log above")
        await asyncio.sleep(0.05)

    base_url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        health = await client.get("/healthz")
        me = await client.get("/v1/me", headers={"Authorization": f"Bearer {key}"})
    ready_seconds = time.perf_counter() - started
    healthy = health.status_code == 200 and me.status_code == 200
    _print_summary(base_url, key, me.json() if healthy else {}, ready_seconds)
    if not healthy:
        server.should_exit = True
        await serving
        raise SystemExit(
            f"self-check failed: /healthz {health.status_code}, /v1/me {me.status_code}"
        )
    if exit_after:
        server.should_exit = True
    await serving


def _print_summary(
    base_url: str, key: str, me: dict[str, object], seconds: float
) -> None:
    account = me.get("account", {})
    name = account.get("name") if isinstance(account, dict) else None
    lines = [
        "",
        "Portico is running.",
        f"  API:      {base_url}",
        f"  Docs:     {base_url}/docs",
        f"  Account:  {name}",
        f"  API key:  {key}",
        f"  Ready in: {seconds:.2f} s (database, schema, account, key, self-check)",
        "",
        f"  Try:      curl -H 'Authorization: Bearer {key}' {base_url}/v1/me",
        "",
    ]
    print("\n".join(lines), flush=True)  # noqa: T201 - the demo's output is for people
