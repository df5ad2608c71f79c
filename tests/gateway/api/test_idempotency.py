"""Idempotency keys are remembered for at least 24 hours, then purged; a claim
whose request died unanswered lapses after a few minutes."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.api import idempotency
from gateway.api.errors import ApiError
from gateway.db.engine import transaction
from gateway.db.tables import IdempotencyKeyRow
from tests.support.factories import Caller, make_caller

SCOPE = "orders.create"
DIGEST = idempotency.request_digest(SCOPE, {"lines": [{"sku": "P1", "quantity": 1}]})
ANSWER = idempotency.StoredAnswer(201, b'{"id":"the first order"}')


async def answered_key(
    sessions: async_sessionmaker[AsyncSession], account_id: uuid.UUID, key: str
) -> None:
    """A key whose first request has been answered, as the orders route does."""
    claimed = await idempotency.claim(sessions, account_id, key, SCOPE, DIGEST)
    assert isinstance(claimed, idempotency.Claim)
    async with transaction(sessions) as session:
        await idempotency.remember(session, claimed, ANSWER)


async def age(
    sessions: async_sessionmaker[AsyncSession],
    account_id: uuid.UUID,
    key: str,
    hours: float,
) -> None:
    """Make the key as if it had been used ``hours`` ago."""
    shift = timedelta(hours=hours)
    async with transaction(sessions) as session:
        await session.execute(
            update(IdempotencyKeyRow)
            .where(
                IdempotencyKeyRow.account_id == account_id,
                IdempotencyKeyRow.key == key,
            )
            .values(
                created_at=IdempotencyKeyRow.created_at - shift,
                expires_at=IdempotencyKeyRow.expires_at - shift,
            )
        )


async def kept_keys(sessions: async_sessionmaker[AsyncSession]) -> set[str]:
    async with sessions() as session:
        return set(await session.scalars(select(IdempotencyKeyRow.key)))


async def test_a_key_23_hours_old_still_replays_its_first_answer(
    sessions: async_sessionmaker[AsyncSession], caller: Caller
) -> None:
    await answered_key(sessions, caller.account.id, "k-23h")
    await age(sessions, caller.account.id, "k-23h", hours=23)

    replayed = await idempotency.claim(
        sessions, caller.account.id, "k-23h", SCOPE, DIGEST
    )

    assert replayed == ANSWER


async def test_a_key_past_retention_is_a_new_request(
    sessions: async_sessionmaker[AsyncSession], caller: Caller
) -> None:
    await answered_key(sessions, caller.account.id, "k-25h")
    await age(sessions, caller.account.id, "k-25h", hours=25)

    replayed = await idempotency.claim(
        sessions, caller.account.id, "k-25h", SCOPE, DIGEST
    )

    assert isinstance(replayed, idempotency.Claim), "claimed afresh: a new request"


async def test_the_purge_removes_only_keys_past_retention(
    sessions: async_sessionmaker[AsyncSession], caller: Caller
) -> None:
    other = await make_caller(sessions, name="Other Dealer")
    ages = {"fresh": 0.0, "k-23h": 23.0, "k-25h": 25.0, "k-30d": 24.0 * 30}
    for key, hours in ages.items():
        await answered_key(sessions, caller.account.id, key)
        await age(sessions, caller.account.id, key, hours)
    await answered_key(sessions, other.account.id, "other-25h")
    await age(sessions, other.account.id, "other-25h", hours=25)
    # A first request still in flight a day ago is forgotten as well.
    await idempotency.claim(sessions, caller.account.id, "stuck", SCOPE, DIGEST)
    await age(sessions, caller.account.id, "stuck", hours=25)

    purged = await idempotency.purge_expired(sessions)

    assert purged == 4
    assert await kept_keys(sessions) == {"fresh", "k-23h"}
    assert await idempotency.purge_expired(sessions) == 0


async def test_c09_a_claim_in_flight_within_its_lease_is_a_409(
    sessions: async_sessionmaker[AsyncSession], caller: Caller
) -> None:
    await idempotency.claim(sessions, caller.account.id, "busy", SCOPE, DIGEST)
    await age(sessions, caller.account.id, "busy", hours=4 / 60)

    with pytest.raises(ApiError) as refused:
        await idempotency.claim(sessions, caller.account.id, "busy", SCOPE, DIGEST)

    assert refused.value.problem.status == 409
    assert refused.value.problem.code == "idempotency_key_in_flight"


async def test_c09_a_claim_orphaned_by_a_crash_lapses_and_the_retry_is_processed(
    sessions: async_sessionmaker[AsyncSession], caller: Caller
) -> None:
    # The first request's replica died between claiming and answering.
    orphan = await idempotency.claim(
        sessions, caller.account.id, "orphan", SCOPE, DIGEST
    )
    await age(sessions, caller.account.id, "orphan", hours=6 / 60)

    retry = await idempotency.claim(
        sessions, caller.account.id, "orphan", SCOPE, DIGEST
    )
    assert isinstance(retry, idempotency.Claim), "the lapsed claim is taken over"
    async with transaction(sessions) as session:
        await idempotency.remember(session, retry, ANSWER)
    replayed = await idempotency.claim(
        sessions, caller.account.id, "orphan", SCOPE, DIGEST
    )

    assert isinstance(orphan, idempotency.Claim)
    assert retry.claimed_at > orphan.claimed_at
    assert replayed == ANSWER


async def test_c09_a_request_that_outlived_its_claim_rolls_its_effect_back(
    sessions: async_sessionmaker[AsyncSession], caller: Caller
) -> None:
    slow = await idempotency.claim(sessions, caller.account.id, "slow", SCOPE, DIGEST)
    await age(sessions, caller.account.id, "slow", hours=6 / 60)
    retry = await idempotency.claim(sessions, caller.account.id, "slow", SCOPE, DIGEST)
    assert isinstance(slow, idempotency.Claim)
    assert isinstance(retry, idempotency.Claim)
    late = idempotency.StoredAnswer(201, b'{"id":"the slow one"}')

    async def slow_request_finishes() -> None:
        async with transaction(sessions) as session:
            # The slow request's effect, in the transaction its answer joins.
            session.add(
                IdempotencyKeyRow(
                    account_id=caller.account.id,
                    key="the slow request's effect",
                    scope=SCOPE,
                    request_digest=DIGEST,
                    expires_at=retry.claimed_at,
                )
            )
            await session.flush()
            await idempotency.remember(session, slow, late)

    with pytest.raises(ApiError) as refused:
        await slow_request_finishes()
    # The slow request's release must not free the retry's claim either.
    await idempotency.release(sessions, slow)
    async with transaction(sessions) as session:
        await idempotency.remember(session, retry, ANSWER)
    replayed = await idempotency.claim(
        sessions, caller.account.id, "slow", SCOPE, DIGEST
    )

    assert refused.value.problem.status == 409
    assert "the slow request's effect" not in await kept_keys(sessions)
    assert replayed == ANSWER
