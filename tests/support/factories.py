"""Helpers that create what tests need through Portico's own services."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.accounts.model import Account, NewAccount
from domain.accounts.scopes import DEALER_SCOPES, Scope
from gateway.accounts import service


@dataclass(frozen=True, slots=True)
class Caller:
    account: Account
    token: str
    prefix: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def make_caller(
    sessions: async_sessionmaker[AsyncSession],
    *,
    name: str = "Nordwind Dealer GmbH",
    timezone: str = "Europe/Berlin",
    currency: str = "EUR",
    scopes: frozenset[Scope] = DEALER_SCOPES,
) -> Caller:
    account = await service.open_account(
        sessions, NewAccount.create(name=name, timezone=timezone, currency=currency)
    )
    created = await service.create_key(sessions, account.id, scopes, name="test")
    return Caller(account=account, token=created.token, prefix=created.key.prefix)


def asgi_client(app: FastAPI) -> httpx.AsyncClient:
    """A client that calls ``app`` in-process (its lifespan must be running)."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://portico.test"
    )
