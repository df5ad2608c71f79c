from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.api.app import create_app
from gateway.settings import Settings
from tests.gateway.api import probe


@pytest.fixture(scope="session")
async def probe_app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    application.include_router(probe.router)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def probe_client(
    probe_app: FastAPI, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[httpx.AsyncClient]:
    # raise_app_exceptions=False: a 500 must reach the client as a response,
    # exactly as a real server would send it.
    transport = httpx.ASGITransport(app=probe_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://portico.test"
    ) as client:
        yield client
