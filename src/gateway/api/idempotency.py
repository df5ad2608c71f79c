"""Idempotency keys: a write retried with the same key replays its first answer.

The protocol, per account and key (case C09):

1. The first request claims the key in a transaction of its own, so that a
   concurrent twin sees the claim at once.
2. A request that finds the key claimed and unanswered gets 409: the first is
   still in flight. One that finds it answered gets that answer again, status
   and body, byte for byte. One whose body differs from the first gets 422.
3. The first request stores its answer in the same transaction as its effect,
   so the effect and the remembered answer commit together or not at all. A
   refusal that follows from the request alone (422, 404) is its answer too;
   one that follows from a state that may change (409: the account is not
   linked yet, say) is not remembered, so that the retry the problem asks for
   is processed. If it fails unexpectedly, the claim is released as well.
4. A claim left unanswered for longer than any request may take (its replica
   died mid-request) lapses, so the client's retry is processed rather than
   refused for a day. The answer is stored only while the claim it was made
   under still holds: a request that outlived its claim rolls its effect back.

Keys belong to an account: the same key sent by two accounts is two keys.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from fastapi.responses import Response
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.errors import ConflictError, DomainError
from gateway.api.errors import ApiError
from gateway.api.handlers import domain_problem
from gateway.api.problems import PROBLEM_MEDIA_TYPE, ProblemType
from gateway.db.engine import transaction
from gateway.db.tables import IdempotencyKeyRow

KEY_HEADER = "Idempotency-Key"
#: How long an answer is remembered; a retry after that is a new request.
RETENTION = timedelta(hours=24)
#: How long an unanswered claim holds: well past the longest a request may
#: take (a connector call's deadline is at most 120 s), short enough that a
#: retry after a crashed replica is processed within minutes.
CLAIM_LEASE = timedelta(minutes=5)
MAX_KEY_LENGTH = 255

KEY_REUSED = ProblemType(
    "idempotency_key_reused", 422, "The idempotency key was used for another request"
)
KEY_IN_FLIGHT = ProblemType(
    "idempotency_key_in_flight", 409, "A request with this idempotency key is in flight"
)
INVALID_KEY = ProblemType(
    "invalid_idempotency_key", 400, "The idempotency key is malformed"
)
KEY_REQUIRED = ProblemType(
    "idempotency_key_required", 400, "This write requires an Idempotency-Key header"
)


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    status: int
    body: bytes


@dataclass(frozen=True, slots=True)
class Claim:
    """A request's hold on its key; ``claimed_at`` tells it from a later one."""

    account_id: uuid.UUID
    key: str
    claimed_at: datetime


def request_digest(scope: str, body: Any) -> bytes:
    """A digest of what the request asks for, blind to key order and spacing."""
    canonical = orjson.dumps([scope, body], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).digest()


def require_key(value: str | None) -> str:
    if value is None or not value.strip():
        raise ApiError(
            KEY_REQUIRED,
            f"send an {KEY_HEADER} header (for example a UUID) so that a retry "
            "of this request cannot place it twice",
        )
    if len(value) > MAX_KEY_LENGTH or not value.isprintable() or not value.isascii():
        raise ApiError(
            INVALID_KEY,
            f"an {KEY_HEADER} is 1 to {MAX_KEY_LENGTH} printable ASCII characters",
        )
    return value


async def claim(
    sessions: async_sessionmaker[AsyncSession],
    account_id: uuid.UUID,
    key: str,
    scope: str,
    digest: bytes,
) -> Claim | StoredAnswer:
    """Claim ``key`` for this request, or return the answer already given.

    Raises ApiError 409 when the first request is still in flight and 422 when
    the key was used with another body or for another operation.
    """
    async with transaction(sessions) as session:
        # An expired key, or a claim whose request died unanswered, is
        # forgotten: the request is new again.
        await session.execute(
            delete(IdempotencyKeyRow).where(
                IdempotencyKeyRow.account_id == account_id,
                IdempotencyKeyRow.key == key,
                (IdempotencyKeyRow.expires_at < func.now())
                | (
                    IdempotencyKeyRow.response_status.is_(None)
                    & (IdempotencyKeyRow.created_at < func.now() - CLAIM_LEASE)
                ),
            )
        )
        claimed_at = await session.scalar(
            insert(IdempotencyKeyRow)
            .values(
                account_id=account_id,
                key=key,
                scope=scope,
                request_digest=digest,
                expires_at=func.now() + RETENTION,
            )
            .on_conflict_do_nothing()
            .returning(IdempotencyKeyRow.created_at)
        )
        if claimed_at is not None:
            return Claim(account_id, key, claimed_at)
        existing = await session.scalar(
            select(IdempotencyKeyRow).where(
                IdempotencyKeyRow.account_id == account_id,
                IdempotencyKeyRow.key == key,
            )
        )
    if existing is None:  # released between our insert and select: try again
        return await claim(sessions, account_id, key, scope, digest)
    if existing.scope != scope or existing.request_digest != digest:
        raise ApiError(
            KEY_REUSED,
            f"this {KEY_HEADER} was first used with a different request; "
            "use a new key for a new request",
        )
    if existing.response_status is None or existing.response_body is None:
        raise ApiError(
            KEY_IN_FLIGHT,
            "the first request with this key is still being processed; "
            "retry shortly to get its answer",
            headers={"Retry-After": "1"},
        )
    return StoredAnswer(existing.response_status, existing.response_body)


def _held(claim: Claim) -> Any:
    return (
        (IdempotencyKeyRow.account_id == claim.account_id)
        & (IdempotencyKeyRow.key == claim.key)
        & (IdempotencyKeyRow.created_at == claim.claimed_at)
        & IdempotencyKeyRow.response_status.is_(None)
    )


async def remember(session: AsyncSession, claim: Claim, answer: StoredAnswer) -> None:
    """Store the answer in ``session``: it commits with the request's effect.

    Raises ApiError 409 if the claim lapsed and a retry took the key over;
    raised inside the effect's transaction, it rolls the effect back.
    """
    stored = await session.scalar(
        update(IdempotencyKeyRow)
        .where(_held(claim))
        .values(response_status=answer.status, response_body=answer.body)
        .returning(IdempotencyKeyRow.key)
    )
    if stored is None:
        raise ApiError(
            KEY_IN_FLIGHT,
            f"this request took longer than its {KEY_HEADER} is held for, and a "
            "retry with the same key has taken it over; nothing was changed by "
            "this request, retry to get the answer",
            headers={"Retry-After": "1"},
        )


async def release(sessions: async_sessionmaker[AsyncSession], claim: Claim) -> None:
    """Give up an unanswered claim so that the client's retry is processed."""
    async with transaction(sessions) as session:
        await session.execute(delete(IdempotencyKeyRow).where(_held(claim)))


async def refuse(
    sessions: async_sessionmaker[AsyncSession],
    claim: Claim,
    error: DomainError,
    instance: str,
) -> Response:
    """The problem a refused request gets, remembered for its retries unless
    the state that caused it may change (see the module's docstring)."""
    problem = domain_problem(error, instance)
    if isinstance(error, ConflictError):
        await release(sessions, claim)
        return problem
    async with transaction(sessions) as session:
        await remember(
            session, claim, StoredAnswer(problem.status_code, bytes(problem.body))
        )
    return problem


def answer(stored: StoredAnswer, collection: str) -> Response:
    """A creation's answer, first time or replayed: 201 with the Location of
    the new resource under ``collection``, or the problem it was refused with.
    """
    if stored.status >= 400:
        return Response(
            stored.body, status_code=stored.status, media_type=PROBLEM_MEDIA_TYPE
        )
    created = orjson.loads(stored.body)["id"]
    return Response(
        stored.body,
        status_code=stored.status,
        media_type="application/json",
        headers={"Location": f"{collection}/{created}"},
    )


async def purge_expired(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with transaction(sessions) as session:
        result = await session.execute(
            delete(IdempotencyKeyRow).where(IdempotencyKeyRow.expires_at < func.now())
        )
    return int(result.rowcount)  # type: ignore[attr-defined]
