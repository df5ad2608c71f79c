"""The ``portico`` command line."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Annotated, Any, TypeVar

import typer
import uvicorn

from domain.accounts.model import NewAccount
from domain.accounts.scopes import parse_scopes
from domain.errors import DomainError, InvalidInputError
from gateway.accounts import service
from gateway.db.engine import create_engine, session_factory
from gateway.db.migrations import upgrade_to_head
from gateway.runtime import Runtime, prepare
from gateway.settings import SettingsError

app = typer.Typer(
    help="Portico: the integration gateway behind B2B customer portals.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
accounts_app = typer.Typer(help="Customer accounts (tenants).", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
openapi_app = typer.Typer(help="The API contract.", no_args_is_help=True)
peers_app = typer.Typer(
    help="Real back-office systems to try Portico against.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(accounts_app, name="accounts")
app.add_typer(keys_app, name="keys")
app.add_typer(openapi_app, name="openapi")
app.add_typer(peers_app, name="peers")

T = TypeVar("T")
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def _with_sessions(runtime: Runtime, work: Callable[[Any], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = create_engine(runtime.settings.database, runtime.database_url)
        try:
            return await work(session_factory(engine))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _emit(as_json: bool, payload: dict[str, Any], text: str) -> None:
    if as_json:
        typer.echo(json.dumps(payload, default=str))
    else:
        typer.echo(text)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve the HTTP API."""
    runtime = prepare()
    uvicorn.run(
        "gateway.api.app:create_app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,
    )
    del runtime


@app.command()
def worker() -> None:
    """Run the background jobs: ERP submission, status sync, housekeeping."""
    from gateway.worker import run_worker

    asyncio.run(run_worker(prepare()))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration to the configured database."""
    runtime = prepare(migrate_embedded=False)
    upgrade_to_head(runtime.database_url)
    typer.echo("database schema is at head")


@accounts_app.command("create")
def accounts_create(
    name: Annotated[str, typer.Option(help="The customer company's name.")],
    timezone: Annotated[str, typer.Option(help="IANA time zone, e.g. Europe/Berlin.")],
    currency: Annotated[str, typer.Option(help="ISO 4217 code, e.g. EUR.")],
    approval_threshold: Annotated[
        str | None,
        typer.Option(help="Orders above this total wait for an approver."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Open an account for a customer company."""
    try:
        threshold = None if approval_threshold is None else Decimal(approval_threshold)
    except ArithmeticError:
        raise InvalidInputError(
            "--approval-threshold is an amount such as 5000.00",
            field="approval_threshold",
        ) from None
    new = NewAccount.create(
        name=name,
        timezone=timezone,
        currency=currency,
        approval_threshold=threshold,
    )
    account = _with_sessions(prepare(), lambda s: service.open_account(s, new))
    _emit(as_json, {"id": str(account.id), "name": account.name}, str(account.id))


@keys_app.command("create")
def keys_create(
    account: Annotated[uuid.UUID, typer.Option(help="The account's id.")],
    scope: Annotated[
        list[str], typer.Option(help="A scope to grant; repeat for several.")
    ],
    name: Annotated[str, typer.Option(help="What the key is for.")] = "",
    as_json: JsonOption = False,
) -> None:
    """Issue an API key. The key is printed once and cannot be shown again."""
    scopes = parse_scopes(scope)
    created = _with_sessions(
        prepare(), lambda s: service.create_key(s, account, scopes, name)
    )
    payload = {
        "id": str(created.key.id),
        "prefix": created.key.display_prefix,
        "key": created.token,
        "scopes": sorted(s.value for s in created.key.scopes),
    }
    _emit(as_json, payload, created.token)


@keys_app.command("revoke")
def keys_revoke(
    prefix: Annotated[str, typer.Argument(help="The key's prefix, e.g. pk_ab12cd34.")],
    as_json: JsonOption = False,
) -> None:
    """Revoke an API key at once."""
    key = _with_sessions(prepare(), lambda s: service.revoke_key(s, prefix))
    payload = {"prefix": key.display_prefix, "revoked_at": key.revoked_at}
    _emit(as_json, payload, f"revoked {key.display_prefix}")


@openapi_app.command("export")
def openapi_export(
    check: Annotated[
        bool, typer.Option(help="Fail if openapi/portico.yaml is out of date.")
    ] = False,
) -> None:
    """Write openapi/portico.yaml (REST) and openapi/asyncapi.yaml (events)."""
    from gateway.api.app import create_app
    from gateway.api.openapi import contract_path, render_yaml
    from gateway.events.asyncapi import asyncapi_path, build_asyncapi
    from gateway.settings import Settings

    documents = {
        contract_path(): render_yaml(create_app(Settings()).openapi()),
        asyncapi_path(): render_yaml(build_asyncapi()),
    }
    for path, rendered in documents.items():
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != rendered:
                typer.echo(
                    f"{path} is out of date: run 'portico openapi export'", err=True
                )
                raise typer.Exit(1)
            continue
        path.write_text(rendered, encoding="utf-8")
        typer.echo(f"wrote {path}")


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="TCP port for the gateway.")] = 8000,
    orders: Annotated[
        int,
        typer.Option(
            min=1, help="TPC-H orders to replay (the first ones by order key)."
        ),
    ] = 100,
    exit_after: Annotated[
        bool, typer.Option("--exit", help="Stop once the demo has run.")
    ] = False,
) -> None:
    """Replay TPC-H orders through Portico, a real Tryton, Kafka and webhooks.

    The TPC-H scale is PORTICO_PEERS__SCALE (default 0.01). Exits non-zero
    if the replay saw any error.
    """
    from gateway.demo import run_demo

    started = time.perf_counter()
    run_demo(
        prepare(), port=port, orders=orders, exit_after=exit_after, started=started
    )


@peers_app.command("tryton")
def peers_tryton(
    scale: Annotated[
        float | None, typer.Option(help="TPC-H scale factor (default: settings).")
    ] = None,
) -> None:
    """Run a local Tryton seeded from TPC-H, with Portico accounts linked to it.

    Prints the settings that bind it as Portico's ERP; stops on Ctrl-C.
    """
    from gateway.peers.accounts import link_tpch_accounts
    from gateway.peers.tpch import load_tpch
    from gateway.peers.tryton import TrytonPeer
    from gateway.peers.wiring import ERP_NAME, tryton_connector

    runtime = prepare()
    peers = runtime.settings.peers
    chosen = scale or peers.scale
    with TrytonPeer(peers.cache_dir, scale=chosen) as peer:
        tpch = load_tpch(peers.cache_dir, chosen, include_orders=False)
        linked = _with_sessions(
            runtime,
            lambda s: link_tpch_accounts(s, tpch, peer.manifest, ERP_NAME),
        )
        connector = tryton_connector(peer).model_dump()
        typer.echo(f"Tryton is running at {peer.url} (pid {peer.pid}).")
        typer.echo(f"{len(linked)} Portico accounts are linked to its customers.")
        typer.echo("Bind it as Portico's ERP with:")
        typer.echo(f"  export PORTICO_CONNECTORS='{json.dumps({ERP_NAME: connector})}'")
        typer.echo(f"  export PORTICO_PORTS__ERP={ERP_NAME}")
        typer.echo("Press Ctrl-C to stop it.")
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()


def _exit_on(signum: int, _frame: object) -> None:
    # Exiting (rather than dying of the signal) runs the clean-up that stops
    # the embedded PostgreSQL and every peer process this command started.
    raise SystemExit(128 + signum)


def main() -> None:
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _exit_on)
    try:
        app()
    except SettingsError as error:
        typer.echo(str(error), err=True)
        sys.exit(2)
    except DomainError as error:
        typer.echo(f"error: {error.detail}", err=True)
        sys.exit(1)
