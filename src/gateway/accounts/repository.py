"""Reading and writing accounts and API keys. Flushes; never commits."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.accounts.keys import ApiKey, IssuedKey
from domain.accounts.model import Account, AccountStatus, NewAccount
from domain.accounts.scopes import Scope
from gateway.db.tables import AccountRow, ApiKeyRow


def _account(row: AccountRow) -> Account:
    return Account(
        id=row.id,
        name=row.name,
        timezone=row.timezone,
        currency=row.currency,
        status=AccountStatus(row.status),
        created_at=row.created_at,
    )


def _api_key(row: ApiKeyRow) -> ApiKey:
    return ApiKey(
        id=row.id,
        account_id=row.account_id,
        prefix=row.prefix,
        name=row.name,
        scopes=frozenset(Scope(value) for value in row.scopes),
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, new: NewAccount) -> Account:
        row = AccountRow(
            id=uuid.uuid4(),
            name=new.name,
            timezone=new.timezone,
            currency=new.currency,
            status=AccountStatus.ACTIVE.value,
            approval_threshold=new.approval_threshold,
        )
        self._session.add(row)
        await self._session.flush()
        await self._session.refresh(row)
        return _account(row)

    async def get(self, account_id: uuid.UUID) -> Account | None:
        row = await self._session.get(AccountRow, account_id)
        return None if row is None else _account(row)


class ApiKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self,
        account_id: uuid.UUID,
        issued: IssuedKey,
        scopes: frozenset[Scope],
        name: str,
    ) -> ApiKey:
        row = ApiKeyRow(
            id=uuid.uuid4(),
            account_id=account_id,
            prefix=issued.prefix,
            secret_digest=issued.digest,
            name=name,
            scopes=sorted(scope.value for scope in scopes),
        )
        self._session.add(row)
        await self._session.flush()
        await self._session.refresh(row)
        return _api_key(row)

    async def find_active(self, prefix: str) -> tuple[ApiKey, bytes, Account] | None:
        """The unrevoked key with this prefix, its digest and its active account."""
        statement = (
            select(ApiKeyRow, AccountRow)
            .join(AccountRow, AccountRow.id == ApiKeyRow.account_id)
            .where(
                ApiKeyRow.prefix == prefix,
                ApiKeyRow.revoked_at.is_(None),
                AccountRow.status == AccountStatus.ACTIVE.value,
            )
        )
        found = (await self._session.execute(statement)).one_or_none()
        if found is None:
            return None
        key_row, account_row = found
        return _api_key(key_row), key_row.secret_digest, _account(account_row)

    async def revoke(self, prefix: str) -> ApiKey | None:
        """Revoke the key; revoking twice keeps the first revocation time."""
        statement = (
            update(ApiKeyRow)
            .where(ApiKeyRow.prefix == prefix)
            .values(revoked_at=func.coalesce(ApiKeyRow.revoked_at, func.now()))
            .returning(ApiKeyRow)
        )
        row = (await self._session.execute(statement)).scalar_one_or_none()
        return None if row is None else _api_key(row)

    async def touch(self, key_id: uuid.UUID, resolution: timedelta) -> None:
        """Record use, at most once per ``resolution``, to bound writes."""
        now = func.now()
        statement = (
            update(ApiKeyRow)
            .where(
                ApiKeyRow.id == key_id,
                (ApiKeyRow.last_used_at.is_(None))
                | (ApiKeyRow.last_used_at < now - resolution),
            )
            .values(last_used_at=now)
        )
        await self._session.execute(statement)


def is_stale(
    last_used_at: datetime | None, now: datetime, resolution: timedelta
) -> bool:
    return last_used_at is None or now - last_used_at >= resolution
