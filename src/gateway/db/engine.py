"""The async engine and the session factory every request and worker uses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from gateway.settings import DatabaseSettings


def asyncpg_url(url: str) -> str:
    """Normalise any PostgreSQL URL to SQLAlchemy's asyncpg dialect."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(
        hide_password=False
    )


def plain_url(url: str) -> str:
    """The URL as asyncpg itself takes it (``postgresql://``)."""
    return (
        make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    )


def create_engine(settings: DatabaseSettings, url: str) -> AsyncEngine:
    return create_async_engine(
        asyncpg_url(url),
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_timeout=settings.pool_timeout_seconds,
        pool_pre_ping=True,
        connect_args={
            "server_settings": {
                "statement_timeout": str(settings.statement_timeout_ms),
                "application_name": "portico",
                # Every timestamp leaves the database in UTC; the API converts
                # to an account's zone only where a report asks for it.
                "timezone": "UTC",
            }
        },
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One session in one transaction: committed on success, else rolled back."""
    async with sessions() as session, session.begin():
        yield session
