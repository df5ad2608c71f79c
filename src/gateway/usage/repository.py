"""Reading and adding to the usage counters. Flushes; never commits."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import exists, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.tables import AccountRow, UsageCounterRow
from gateway.usage.capabilities import CAPABILITIES, Capability
from gateway.usage.recorder import Tally, UsageKey

#: Rows per upsert: 7 parameters each stays far below asyncpg's 32,767.
UPSERT_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class CapabilityCounter:
    capability: Capability
    requests: int
    client_errors: int
    server_errors: int
    first_used_at: datetime
    last_used_at: datetime


@dataclass(frozen=True, slots=True)
class AccountName:
    id: uuid.UUID
    name: str


def _timestamp(epoch_seconds: float) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, UTC)


def _row(key: UsageKey, tally: Tally) -> dict[str, Any]:
    account_id, capability = key
    return {
        "account_id": account_id,
        "capability": capability.value,
        "requests": tally.requests,
        "client_errors": tally.client_errors,
        "server_errors": tally.server_errors,
        "first_used_at": _timestamp(tally.first_used_at),
        "last_used_at": _timestamp(tally.last_used_at),
    }


class UsageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, tallies: Mapping[UsageKey, Tally]) -> int:
        """Add ``tallies`` to the stored counters; the number of rows written.

        Counts add up, the first use keeps the earliest time and the last use
        the latest, so replicas may flush in any order. Tallies of accounts
        deleted since they were counted are dropped: their rows would only be
        deleted with the account, and refusing them would fail every later
        flush as well.
        """
        # One lock order for every replica: two upserts over the same rows
        # cannot deadlock if both take the rows in key order.
        keys = sorted(tallies, key=lambda key: (key[0], key[1].value))
        written = 0
        for start in range(0, len(keys), UPSERT_CHUNK):
            chunk = keys[start : start + UPSERT_CHUNK]
            written += await self._upsert(chunk, tallies)
        return written

    async def _upsert(
        self, keys: Sequence[UsageKey], tallies: Mapping[UsageKey, Tally]
    ) -> int:
        existing = set(
            await self._session.scalars(
                select(AccountRow.id).where(AccountRow.id.in_({key[0] for key in keys}))
            )
        )
        rows = [_row(key, tallies[key]) for key in keys if key[0] in existing]
        if not rows:
            return 0
        statement = insert(UsageCounterRow).values(rows)
        new = statement.excluded
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[UsageCounterRow.account_id, UsageCounterRow.capability],
                set_={
                    "requests": UsageCounterRow.requests + new.requests,
                    "client_errors": UsageCounterRow.client_errors + new.client_errors,
                    "server_errors": UsageCounterRow.server_errors + new.server_errors,
                    "first_used_at": func.least(
                        UsageCounterRow.first_used_at, new.first_used_at
                    ),
                    "last_used_at": func.greatest(
                        UsageCounterRow.last_used_at, new.last_used_at
                    ),
                },
            )
        )
        return len(rows)

    async def used_capabilities(self) -> frozenset[Capability]:
        """The capabilities at least one account has used."""
        probes = [
            exists()
            .where(UsageCounterRow.capability == capability.value)
            .label(capability.value)
            for capability in CAPABILITIES
        ]
        row = (await self._session.execute(select(*probes))).one()
        return frozenset(
            capability
            for capability, used in zip(CAPABILITIES, row, strict=True)
            if used
        )

    async def accounts_page(
        self, after: tuple[str, uuid.UUID] | None, limit: int
    ) -> tuple[list[AccountName], tuple[str, uuid.UUID] | None]:
        """Up to ``limit`` accounts by name (then id) after ``after``, and the
        position to go on from. Every account, used anything or not."""
        statement = select(AccountRow.id, AccountRow.name)
        if after is not None:
            statement = statement.where(
                tuple_(AccountRow.name, AccountRow.id) > tuple_(*after)
            )
        found = await self._session.execute(
            statement.order_by(AccountRow.name, AccountRow.id).limit(limit + 1)
        )
        accounts = [AccountName(id=id, name=name) for id, name in found]
        more = len(accounts) > limit
        accounts = accounts[:limit]
        last = accounts[-1] if more and accounts else None
        return accounts, None if last is None else (last.name, last.id)

    async def counters(
        self, account_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[CapabilityCounter]]:
        """Each account's counters, in the order of :data:`CAPABILITIES`."""
        if not account_ids:
            return {}
        rows = await self._session.scalars(
            select(UsageCounterRow).where(UsageCounterRow.account_id.in_(account_ids))
        )
        found: dict[uuid.UUID, list[CapabilityCounter]] = {
            account_id: [] for account_id in account_ids
        }
        for row in rows:
            found[row.account_id].append(
                CapabilityCounter(
                    capability=Capability(row.capability),
                    requests=row.requests,
                    client_errors=row.client_errors,
                    server_errors=row.server_errors,
                    first_used_at=row.first_used_at,
                    last_used_at=row.last_used_at,
                )
            )
        for counters in found.values():
            counters.sort(key=lambda counter: CAPABILITIES.index(counter.capability))
        return found
