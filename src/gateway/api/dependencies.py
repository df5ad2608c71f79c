"""FastAPI dependencies: the database session and the calling principal."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Annotated

import structlog
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.accounts.scopes import Scope
from gateway.accounts.repository import ApiKeyRepository
from gateway.accounts.service import Principal, authenticate
from gateway.api.cursors import CursorCodec
from gateway.api.errors import ApiError
from gateway.api.problems import FORBIDDEN, UNAUTHORIZED
from gateway.settings import Settings

_bearer = HTTPBearer(
    auto_error=False,
    bearerFormat="pk_<prefix>_<secret>",
    description="An API key issued with `portico keys create`.",
)
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="portico"'}
#: Longer than any key Portico issues; a larger header is refused unread.
MAX_AUTHORIZATION_LENGTH = 256


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_cursors(request: Request) -> CursorCodec:
    cursors: CursorCodec = request.app.state.cursors
    return cursors


def get_sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    return sessions


async def get_session(
    sessions: Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)],
) -> AsyncIterator[AsyncSession]:
    """One session per request. Routes that write commit it themselves, visibly."""
    async with sessions() as session:
        yield session


async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    sessions: Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> Principal:
    """The account and key behind the bearer token; the account comes from
    nowhere else, never from a header or a parameter."""
    header = request.headers.get("authorization", "")
    if credentials is None or not credentials.credentials.strip():
        raise ApiError(
            UNAUTHORIZED,
            "send an API key as 'Authorization: Bearer <key>'",
            headers=_CHALLENGE,
        )
    if len(header) > MAX_AUTHORIZATION_LENGTH:
        raise ApiError(UNAUTHORIZED, "the API key is not valid", headers=_CHALLENGE)
    resolution = timedelta(seconds=settings.auth.last_used_resolution_seconds)
    principal = await authenticate(sessions, credentials.credentials, resolution)
    if principal is None:
        raise ApiError(
            UNAUTHORIZED,
            "the API key is not valid, was revoked, or its account is suspended",
            headers=_CHALLENGE,
        )
    request.state.account_id = principal.account.id
    structlog.contextvars.bind_contextvars(account_id=str(principal.account.id))
    return principal


async def still_allowed(
    session: AsyncSession, principal: Principal, scope: Scope
) -> bool:
    """Whether ``principal`` would pass ``require(scope)`` again now: its key
    unrevoked, its account active (the rule ``authenticate`` applies, read
    by the same ``find_active``) and ``scope`` still granted.

    For answers that outlive the request that opened them, such as the event
    stream: one small query, run again at intervals of the caller's choosing.
    The secret is not checked again; it was checked when the request came in
    and a key's digest never changes.
    """
    found = await ApiKeyRepository(session).find_active(principal.key.prefix)
    if found is None:
        return False
    key, _digest, account = found
    return key.id == principal.key.id and Principal(account, key).allows(scope)


def require(scope: Scope) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets the request through only with ``scope``."""

    async def check(
        principal: Annotated[Principal, Depends(get_principal)],
    ) -> Principal:
        if not principal.allows(scope):
            raise ApiError(
                FORBIDDEN,
                f"this API key lacks the '{scope.value}' scope",
            )
        return principal

    return check


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
Cursors = Annotated[CursorCodec, Depends(get_cursors)]
DbSession = Annotated[AsyncSession, Depends(get_session)]
