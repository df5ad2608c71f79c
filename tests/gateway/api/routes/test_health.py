"""Readiness follows the schema: not ready behind head, ready at head."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
from alembic import command
from alembic.script import ScriptDirectory
from pydantic import SecretStr

from gateway.api.app import create_app
from gateway.db.migrations import alembic_config, head_revision, upgrade_to_head
from gateway.settings import Settings
from tests.support.database import sibling_database
from tests.support.factories import asgi_client


def revision_before_head() -> str:
    script = ScriptDirectory.from_config(alembic_config("postgresql://unused"))
    head_id = head_revision()
    assert head_id is not None, "the project has migrations"
    head = script.get_revision(head_id)
    assert head is not None
    assert isinstance(head.down_revision, str), "head must have one parent"
    return head.down_revision


@contextlib.asynccontextmanager
async def gateway_on(settings: Settings, url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The application, served in-process, over the database at ``url``."""
    database = settings.database.model_copy(update={"url": SecretStr(url)})
    application = create_app(settings.model_copy(update={"database": database}))
    async with (
        application.router.lifespan_context(application),
        asgi_client(application) as client,
    ):
        yield client


async def test_readyz_is_a_503_problem_behind_head_and_ready_at_head(
    settings: Settings, database_url: str
) -> None:
    behind = revision_before_head()
    async with sibling_database(database_url) as url:
        await asyncio.to_thread(command.upgrade, alembic_config(url), behind)
        async with gateway_on(settings, url) as client:
            not_ready = await client.get("/readyz")
            alive = await client.get("/healthz")
        await asyncio.to_thread(upgrade_to_head, url)
        async with gateway_on(settings, url) as client:
            ready = await client.get("/readyz")

    assert not_ready.status_code == 503
    assert not_ready.headers["content-type"] == "application/problem+json"
    problem = not_ready.json()
    assert problem["code"] == "service_unavailable"
    assert problem["status"] == 503
    assert f"the schema is at {behind}" in problem["detail"]
    assert f"the code expects {head_revision()}" in problem["detail"]
    assert alive.status_code == 200, "liveness does not depend on the schema"
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "schema_revision": head_revision()}


async def test_readyz_is_a_503_problem_on_a_database_never_migrated(
    settings: Settings, database_url: str
) -> None:
    async with (
        sibling_database(database_url) as url,
        gateway_on(settings, url) as client,
    ):
        response = await client.get("/readyz")

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "service_unavailable"
    assert "the schema is at nothing" in response.json()["detail"]
