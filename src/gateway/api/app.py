"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from domain.catalog.service import CatalogService
from gateway import __version__
from gateway.api.cursors import CursorCodec
from gateway.api.handlers import install_exception_handlers
from gateway.api.middleware import BodyLimitMiddleware, RequestContextMiddleware
from gateway.api.openapi import install_openapi
from gateway.api.routes import health, me
from gateway.backends import Backends, BackendWiringError, build_backends
from gateway.catalog import routes as catalog_routes
from gateway.catalog.cache import TtlPartCache
from gateway.claims import routes as claim_routes
from gateway.claims.routes import MULTIPART_OVERHEAD
from gateway.claims.wiring import claim_service
from gateway.db.embedded import start_embedded_postgres
from gateway.db.engine import create_engine, plain_url, session_factory
from gateway.documents import routes as document_routes
from gateway.documents.wiring import document_service
from gateway.events import routes as event_routes
from gateway.events.notifier import Notifier
from gateway.events.sequencer import EVENTS_CHANNEL
from gateway.logs import configure_logging, get_logger
from gateway.orders import routes as order_routes
from gateway.orders.service import OrderService
from gateway.reports import routes as report_routes
from gateway.settings import RunMode, Settings, load_settings
from gateway.storage.wiring import attachment_store
from gateway.usage import routes as usage_routes
from gateway.usage.flusher import flushing
from gateway.usage.recorder import UsageBuffer, UsageMiddleware
from gateway.webhooks import routes as webhook_routes

log = get_logger(__name__)

DESCRIPTION = """\
Portico is the integration gateway behind a supplier's B2B portal: one API for
catalog, prices and stock, orders, documents and claims, in front of the ERP,
CRM, CMS and billing systems.

Authenticate with `Authorization: Bearer <API key>`. Every error is an RFC 9457
problem (`application/problem+json`) with a stable `code` and the request's
`correlation_id`.
"""


async def _database_url(settings: Settings) -> str:
    if settings.database.url is not None:
        return settings.database.url.get_secret_value()
    # Blocking start-up work; keep the event loop free while it runs.
    embedded = await asyncio.to_thread(
        start_embedded_postgres, settings.database.state_dir
    )
    return embedded.url


def _cursor_secret(settings: Settings) -> bytes:
    if settings.http.cursor_secret is not None:
        return settings.http.cursor_secret.get_secret_value().encode()
    if settings.mode is RunMode.PRODUCTION:
        log.warning(
            "gateway.cursor_secret.generated",
            detail="set PORTICO_HTTP__CURSOR_SECRET so cursors work across replicas",
        )
    return secrets.token_bytes(32)


def build_catalog(settings: Settings, backends: Backends) -> CatalogService | None:
    if backends.erp is None:
        return None
    content = backends.cms
    if content is None:
        raise BackendWiringError(
            f"the ERP connector {backends.erp_name!r} offers no product content "
            "and no CMS is bound (PORTICO_PORTS__CMS)"
        )
    return CatalogService(
        erp=backends.erp,
        content=content,
        erp_name=backends.erp_name,
        content_name=backends.cms_name,
        cache=TtlPartCache(settings.catalog),
        clock=lambda: datetime.now(UTC),
        read_deadline_seconds=settings.catalog.read_deadline_seconds,
    )


def create_app(settings: Settings, backends: Backends | None = None) -> FastAPI:
    """The application. ``backends`` replaces the configured connectors (tests
    use it to put in-memory twins of the ports behind the API)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stack = contextlib.AsyncExitStack()
        url = await _database_url(settings)
        engine = create_engine(settings.database, url)
        app.state.engine = engine
        app.state.sessions = session_factory(engine)
        wired = backends if backends is not None else build_backends(settings)
        app.state.backends = wired
        app.state.catalog = build_catalog(settings, wired)
        app.state.orders = (
            None if wired.erp is None else OrderService(wired.erp, wired.erp_name)
        )
        app.state.documents = document_service(wired)
        store = await stack.enter_async_context(
            attachment_store(settings.storage, app.state.sessions)
        )
        app.state.claims = claim_service(wired, store, settings.claims)
        app.state.usage_flusher = await stack.enter_async_context(
            flushing(app.state.usage, app.state.sessions, settings.usage)
        )
        notifier = Notifier(plain_url(url), EVENTS_CHANNEL)
        notifier.start()
        app.state.events_notifier = notifier
        log.info("gateway.started", version=__version__, mode=settings.mode.value)
        try:
            yield
        finally:
            await stack.aclose()
            await notifier.stop()
            await wired.aclose()
            await engine.dispose()
            log.info("gateway.stopped")

    app = FastAPI(
        title="Portico",
        version=__version__,
        summary="Integration gateway for B2B customer portals",
        description=DESCRIPTION,
        lifespan=lifespan,
        # Operation ids are the handlers' names: stable, and what generated
        # clients show to a partner's developer.
        generate_unique_id_function=lambda route: route.name,
        openapi_tags=[
            {"name": "account", "description": "The caller's account and key."},
            {
                "name": "catalog",
                "description": "Products with the caller's prices and stock.",
            },
            {
                "name": "orders",
                "description": "Placing orders and following them to the invoice.",
            },
            {
                "name": "events",
                "description": "What changed, in commit order: a feed and a stream.",
            },
            {
                "name": "documents",
                "description": "Invoices, credit notes, delivery notes, quotations "
                "and the reconciliation statement.",
            },
            {
                "name": "claims",
                "description": "Complaints, returns and warranty cases.",
            },
            {
                "name": "webhooks",
                "description": "Endpoints that receive the account's events, "
                "and the delivery log.",
            },
            {
                "name": "admin",
                "description": "Supplier-side views across accounts.",
            },
            {"name": "operations", "description": "Health and readiness probes."},
        ],
    )
    app.state.settings = settings
    app.state.cursors = CursorCodec(_cursor_secret(settings))
    app.state.usage = UsageBuffer()
    app.include_router(health.router)
    app.include_router(me.router)
    app.include_router(catalog_routes.router)
    app.include_router(order_routes.router)
    app.include_router(event_routes.router)
    app.include_router(document_routes.router)
    app.include_router(claim_routes.router)
    app.include_router(webhook_routes.router)
    app.include_router(report_routes.router)
    app.include_router(usage_routes.router)
    install_exception_handlers(app)
    install_openapi(app)
    app.add_middleware(UsageMiddleware, buffer=app.state.usage)
    if settings.http.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.http.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Idempotency-Key",
                "X-Request-ID",
                "Last-Event-ID",
            ],
            expose_headers=["X-Request-ID", "ETag", "Content-Disposition"],
            max_age=600,
        )
    app.add_middleware(
        BodyLimitMiddleware,
        max_body_bytes=settings.http.max_body_bytes,
        overrides=[
            (
                re.compile(r"/v1/claims/[^/]+/attachments"),
                settings.claims.max_attachment_bytes + MULTIPART_OVERHEAD,
            )
        ],
    )
    app.add_middleware(
        RequestContextMiddleware, max_header_bytes=settings.http.max_header_bytes
    )
    return app


def create_app_from_environment() -> FastAPI:
    """Entry point for uvicorn's ``--factory`` and its worker processes."""
    settings = load_settings()
    configure_logging(settings)
    return create_app(settings)
