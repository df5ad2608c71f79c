"""The gateway with the documents and claims routers mounted and their
services wired, as ``create_app`` will do once they are part of it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from domain.ports import AttachmentStorePort
from gateway.api.app import create_app
from gateway.backends import Backends
from gateway.claims.service import Clock
from gateway.claims.settings import ClaimsSettings
from gateway.claims.wiring import claim_service
from gateway.documents.wiring import document_service
from gateway.settings import Settings
from gateway.storage.postgres import PostgresAttachmentStore


@asynccontextmanager
async def portico_app(
    settings: Settings,
    backends: Backends | None = None,
    *,
    claims: ClaimsSettings | None = None,
    store: AttachmentStorePort | None = None,
    clock: Clock | None = None,
) -> AsyncIterator[FastAPI]:
    application = create_app(settings, backends)
    async with application.router.lifespan_context(application):
        wired: Backends = application.state.backends
        application.state.documents = document_service(wired)
        application.state.claims = claim_service(
            wired,
            store or PostgresAttachmentStore(application.state.sessions),
            claims or ClaimsSettings(),
            clock,
        )
        yield application


@asynccontextmanager
async def client_of(
    application: FastAPI, *, raise_app_exceptions: bool = True
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(
        app=application, raise_app_exceptions=raise_app_exceptions
    )
    async with httpx.AsyncClient(
        transport=transport, base_url="http://portico.test"
    ) as client:
        yield client
