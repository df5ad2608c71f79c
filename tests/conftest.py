"""Fixtures shared by every test: one real PostgreSQL per session, a clean
schema per test, and the application served in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from gateway.api.app import create_app
from gateway.db.engine import create_engine, session_factory
from gateway.db.migrations import upgrade_to_head
from gateway.db.tables import Base
from gateway.logs import configure_logging
from gateway.settings import DatabaseSettings, Settings
from tests.peers.fixtures import tryton_peer
from tests.peers.kafka_fixtures import kafka_peer
from tests.support.database import test_database
from tests.support.factories import Caller, asgi_client, make_caller
from tests.support.tryton_gateway import tpch, tryton_app, tryton_client


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with test_database(tmp_path_factory.mktemp("postgres")) as url:
        upgrade_to_head(url)
        yield url


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(
        database=DatabaseSettings(
            url=SecretStr(database_url), state_dir=tmp_path_factory.mktemp("state")
        ),
    )
    configure_logging(settings)
    return settings


@pytest.fixture(scope="session")
async def engine(settings: Settings, database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings.database, database_url)
    yield engine
    await engine.dispose()


async def emptied(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Empty every table behind ``engine``; return a session factory over it."""
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    async with engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    return session_factory(engine)


@pytest.fixture
async def sessions(
    engine: AsyncEngine,
) -> async_sessionmaker[AsyncSession]:
    """A session factory over a database emptied before the test."""
    return await emptied(engine)


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(
    app: FastAPI, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app) as client:
        yield client


@pytest.fixture
async def caller(sessions: async_sessionmaker[AsyncSession]) -> Caller:
    return await make_caller(sessions)


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


__all__ = ["kafka_peer", "tpch", "tryton_app", "tryton_client", "tryton_peer"]
