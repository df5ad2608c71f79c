"""A gateway bound to a real Tryton peer, and dealers linked to its customers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.accounts.scopes import DEALER_SCOPES
from gateway.accounts import service
from gateway.accounts.repository import AccountRepository
from gateway.api.app import create_app
from gateway.db.engine import transaction
from gateway.peers.accounts import link_tpch_accounts
from gateway.peers.tpch import TpchData, load_tpch
from gateway.peers.tryton import TrytonPeer
from gateway.peers.wiring import ERP_NAME, with_tryton
from gateway.references import EntityKind, ReferenceRepository
from gateway.settings import Settings
from tests.peers.fixtures import TEST_SCALE, peer_cache_dir
from tests.support.factories import Caller, asgi_client


def tryton_settings(settings: Settings, peer: TrytonPeer, **catalog: float) -> Settings:
    """``settings`` with the peer bound as the ERP (and, through it, CMS/CRM)."""
    bound = with_tryton(
        settings,
        peer,
        deadline_seconds=3.0,
        retry_attempts=2,
        breaker_threshold=3,
        breaker_reset_seconds=1.0,
    )
    return bound.model_copy(
        update={
            "catalog": settings.catalog.model_copy(
                update={"read_deadline_seconds": 2.5, **catalog}
            )
        }
    )


async def tpch_caller(
    sessions: async_sessionmaker[AsyncSession],
    tpch: TpchData,
    peer: TrytonPeer,
    custkey: int = 1,
) -> Caller:
    """A dealer key for the account linked to TPC-H customer ``custkey``."""
    accounts = await link_tpch_accounts(sessions, tpch, peer.manifest, ERP_NAME)
    account_id = accounts[custkey]
    created = await service.create_key(sessions, account_id, DEALER_SCOPES)
    async with transaction(sessions) as session:
        ref = await ReferenceRepository(session).external_id(
            EntityKind.ACCOUNT, account_id, ERP_NAME
        )
        account = await AccountRepository(session).get(account_id)
    assert ref == str(peer.manifest.customers[custkey].party_id)
    assert account is not None
    return Caller(account=account, token=created.token, prefix=created.key.prefix)


@pytest.fixture(scope="session")
def tpch() -> TpchData:
    """TPC-H customers and parts at the peer's scale (orders left out)."""
    return load_tpch(peer_cache_dir(), TEST_SCALE, include_orders=False)


@pytest.fixture(scope="session")
async def tryton_app(
    settings: Settings, tryton_peer: TrytonPeer
) -> AsyncIterator[FastAPI]:
    """The gateway with the shared Tryton peer bound as its ERP."""
    application = create_app(tryton_settings(settings, tryton_peer))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def tryton_client(
    tryton_app: FastAPI, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(tryton_app) as client:
        yield client
