"""Opening accounts, issuing and revoking keys, and checking presented keys."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.accounts.keys import ApiKey, issue_key, parse_key, parse_prefix
from domain.accounts.model import Account, NewAccount
from domain.accounts.scopes import Scope
from domain.errors import InvalidInputError, NotFoundError
from gateway.accounts.repository import AccountRepository, ApiKeyRepository, is_stale
from gateway.accounts.schemas import account_read
from gateway.db.engine import transaction
from gateway.events.outbox import record_event


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: one key of one account, and what that key may do."""

    account: Account
    key: ApiKey

    def allows(self, scope: Scope) -> bool:
        """Whether the key may do ``scope``. ``admin`` covers every scope of the
        key's own account, never the supplier-side ``reports:all``."""
        if scope in self.key.scopes:
            return True
        return Scope.ADMIN in self.key.scopes and scope is not Scope.REPORTS_ALL


@dataclass(frozen=True, slots=True)
class CreatedKey:
    """A freshly issued key. ``token`` is shown once and never stored."""

    key: ApiKey
    token: str


async def open_account(
    sessions: async_sessionmaker[AsyncSession], new: NewAccount
) -> Account:
    async with transaction(sessions) as session:
        account = await AccountRepository(session).add(new)
        await record_event(
            session,
            event_type="account.created",
            account_id=account.id,
            subject=str(account.id),
            data=account_read(account).model_dump(mode="json"),
        )
    return account


async def create_key(
    sessions: async_sessionmaker[AsyncSession],
    account_id: uuid.UUID,
    scopes: frozenset[Scope],
    name: str = "",
) -> CreatedKey:
    if not scopes:
        raise InvalidInputError("a key needs at least one scope", field="scope")
    issued = issue_key()
    async with transaction(sessions) as session:
        if await AccountRepository(session).get(account_id) is None:
            raise NotFoundError("account", account_id)
        key = await ApiKeyRepository(session).add(account_id, issued, scopes, name)
    return CreatedKey(key=key, token=issued.token)


async def revoke_key(sessions: async_sessionmaker[AsyncSession], prefix: str) -> ApiKey:
    bare = parse_prefix(prefix)
    if bare is None:
        raise InvalidInputError(
            "a key prefix looks like pk_ab12cd34 (8 letters or digits)", field="prefix"
        )
    async with transaction(sessions) as session:
        key = await ApiKeyRepository(session).revoke(bare)
    if key is None:
        raise NotFoundError("API key", f"pk_{bare}")
    return key


async def authenticate(
    sessions: async_sessionmaker[AsyncSession],
    token: str,
    last_used_resolution: timedelta,
) -> Principal | None:
    """The principal behind a presented token, or None for any invalid token.

    The caller cannot tell a malformed token from an unknown or revoked one:
    each answer would help someone guessing keys.
    """
    presented = parse_key(token)
    if presented is None:
        return None
    async with transaction(sessions) as session:
        keys = ApiKeyRepository(session)
        found = await keys.find_active(presented.prefix)
        if found is None or not presented.matches(found[1]):
            return None
        key, _digest, account = found
        if is_stale(key.last_used_at, datetime.now(UTC), last_used_resolution):
            await keys.touch(key.id, last_used_resolution)
    return Principal(account=account, key=key)
