"""The delivery queue in PostgreSQL: leasing due deliveries, recording results.

Leasing is how several dispatchers (worker replicas) share the work without
sending a delivery twice in normal operation. A dispatcher locks the endpoints
that have due deliveries (``FOR NO KEY UPDATE SKIP LOCKED``: another replica
skips them this round) and, under that lock, leases up to each endpoint's
free concurrency: it stamps a lease token, counts the attempt and moves
``next_attempt_at`` to the lease's end. A dispatcher that dies mid-send
records nothing; when its lease runs out the delivery is due again, another
dispatcher sends it with the same ``webhook-id``, and the lost attempt is
logged as ``abandoned``. A result is applied only while its lease token still
holds, so a dispatcher that outlived its lease cannot overwrite the newer
attempt's outcome.

With ``strict_ordering``, only the oldest pending delivery of each subject is
leased for an endpoint: the next waits until it is delivered or failed.

The endpoint locks last only as long as the leasing transaction (a few
milliseconds), not while the requests run; a replica that finds every due
endpoint locked at that moment leases nothing this round and tries again.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.db.engine import transaction
from gateway.db.tables import WebhookEndpointRow
from gateway.events.outbox import record_event
from gateway.webhooks.retries import NextStep
from gateway.webhooks.schemas import endpoint_read
from gateway.webhooks.transport import AttemptResult

ABANDONED_DETAIL = (
    "the dispatcher's lease ran out before it recorded a result (the worker "
    "stopped mid-send); the request may or may not have reached the receiver"
)

_LOCK_ENDPOINTS = text(
    """
    SELECT e.id
    FROM webhook_endpoints AS e
    JOIN (
        SELECT endpoint_id, min(next_attempt_at) AS due
        FROM webhook_deliveries
        WHERE status = 'pending' AND next_attempt_at <= now()
        GROUP BY endpoint_id
    ) AS waiting ON waiting.endpoint_id = e.id
    WHERE e.enabled
    ORDER BY waiting.due
    LIMIT :endpoints
    FOR NO KEY UPDATE OF e SKIP LOCKED
    """
)

_LEASE = text(
    """
    WITH busy AS (
        SELECT endpoint_id, count(*) AS in_flight
        FROM webhook_deliveries
        WHERE endpoint_id = ANY(CAST(:endpoints AS uuid[]))
          AND status = 'pending'
          AND lease_token IS NOT NULL
          AND next_attempt_at > now()
        GROUP BY endpoint_id
    ),
    picked AS (
        SELECT d.id, d.lease_token AS old_token, d.leased_at AS old_leased_at
        FROM webhook_endpoints AS e
        LEFT JOIN busy ON busy.endpoint_id = e.id
        CROSS JOIN LATERAL (
            SELECT d.id, d.lease_token, d.leased_at, d.next_attempt_at, d.seq
            FROM webhook_deliveries AS d
            WHERE d.endpoint_id = e.id
              AND d.status = 'pending'
              AND d.next_attempt_at <= now()
              AND (
                  NOT e.strict_ordering
                  OR NOT EXISTS (
                      SELECT 1
                      FROM webhook_deliveries AS earlier
                      WHERE earlier.endpoint_id = e.id
                        AND earlier.status = 'pending'
                        AND earlier.subject = d.subject
                        AND earlier.seq < d.seq
                  )
              )
            ORDER BY d.next_attempt_at, d.seq
            LIMIT greatest(e.max_concurrency - coalesce(busy.in_flight, 0), 0)
        ) AS d
        WHERE e.id = ANY(CAST(:endpoints AS uuid[]))
        ORDER BY d.next_attempt_at, d.seq
        LIMIT :batch
    )
    UPDATE webhook_deliveries AS d
    SET lease_token = gen_random_uuid(),
        leased_at = now(),
        next_attempt_at = now() + make_interval(secs => CAST(:lease AS float8)),
        attempt_count = d.attempt_count + 1,
        updated_at = now()
    FROM picked, webhook_messages AS m, webhook_endpoints AS e
    WHERE d.id = picked.id
      AND m.event_id = d.event_id
      AND e.id = d.endpoint_id
      AND d.status = 'pending'
      AND d.next_attempt_at <= now()
    RETURNING d.id, d.account_id, d.endpoint_id, d.event_id, d.event_type,
        d.attempt_count, d.budget_start, d.lease_token,
        picked.old_token, picked.old_leased_at,
        m.payload, e.url, e.secret, e.previous_secret,
        coalesce(e.previous_secret_expires_at > now(), false) AS previous_valid
    """
)

_RECORD_ABANDONED = text(
    """
    INSERT INTO webhook_attempts (delivery_id, attempt, started_at, error_class,
        error_detail)
    SELECT u.delivery_id, u.attempt, u.started_at, 'abandoned', :detail
    FROM unnest(CAST(:ids AS uuid[]), CAST(:attempts AS int[]),
        CAST(:started AS timestamptz[])) AS u(delivery_id, attempt, started_at)
    """
)

_RECORD = text(
    """
    WITH outcome AS (
        SELECT *
        FROM unnest(
            CAST(:ids AS uuid[]), CAST(:tokens AS uuid[]), CAST(:attempts AS int[]),
            CAST(:started AS timestamptz[]), CAST(:durations AS int[]),
            CAST(:statuses AS int[]), CAST(:bodies AS text[]),
            CAST(:error_classes AS text[]), CAST(:error_details AS text[]),
            CAST(:states AS text[]), CAST(:delays AS float8[])
        ) AS u(id, token, attempt, started_at, duration_ms, status, body,
            error_class, error_detail, state, delay)
    ),
    logged AS (
        INSERT INTO webhook_attempts (delivery_id, attempt, started_at,
            duration_ms, response_status, response_body, error_class,
            error_detail)
        SELECT u.id, u.attempt, u.started_at, u.duration_ms, u.status, u.body,
            u.error_class, u.error_detail
        FROM outcome AS u
        WHERE EXISTS (SELECT 1 FROM webhook_deliveries AS d WHERE d.id = u.id)
    ),
    healthy AS (
        UPDATE webhook_endpoints
        SET failing_since = NULL, last_success_at = now()
        WHERE id = ANY(CAST(:succeeded AS uuid[]))
    )
    UPDATE webhook_deliveries AS d
    SET status = u.state,
        next_attempt_at = CASE WHEN u.delay IS NULL THEN NULL
            ELSE now() + make_interval(secs => u.delay) END,
        lease_token = NULL,
        leased_at = NULL,
        last_error = CASE WHEN u.state = 'delivered' THEN NULL
            ELSE u.error_class || ': ' || u.error_detail END,
        delivered_at = CASE WHEN u.state = 'delivered' THEN now()
            ELSE d.delivered_at END,
        updated_at = now()
    FROM outcome AS u
    WHERE d.id = u.id AND d.lease_token = u.token
    RETURNING d.id
    """
)


@dataclass(frozen=True, slots=True)
class LeasedDelivery:
    id: uuid.UUID
    account_id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    #: This attempt's number over the delivery's life (1 for the first).
    attempt: int
    #: Attempts made from the current retry budget, this one included.
    attempts_used: int
    lease_token: uuid.UUID
    url: str
    signing_secrets: tuple[str, ...]
    payload: bytes


@dataclass(frozen=True, slots=True)
class Outcome:
    delivery: LeasedDelivery
    result: AttemptResult
    step: NextStep


@dataclass(frozen=True, slots=True)
class Recorded:
    applied: frozenset[uuid.UUID]
    disabled_endpoints: tuple[WebhookEndpointRow, ...]


class DeliveryQueue:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def lease(self, batch: int, lease_seconds: float) -> list[LeasedDelivery]:
        """Lease up to ``batch`` due deliveries for ``lease_seconds``."""
        async with transaction(self._sessions) as session:
            endpoints = list(
                await session.scalars(_LOCK_ENDPOINTS, {"endpoints": batch})
            )
            if not endpoints:
                return []
            rows = (
                await session.execute(
                    _LEASE,
                    {"endpoints": endpoints, "batch": batch, "lease": lease_seconds},
                )
            ).mappings()
            leased: list[LeasedDelivery] = []
            abandoned: list[tuple[uuid.UUID, int, datetime]] = []
            for row in rows:
                signing = [row["secret"]]
                if row["previous_secret"] and row["previous_valid"]:
                    signing.append(row["previous_secret"])
                leased.append(
                    LeasedDelivery(
                        id=row["id"],
                        account_id=row["account_id"],
                        endpoint_id=row["endpoint_id"],
                        event_id=row["event_id"],
                        event_type=row["event_type"],
                        attempt=row["attempt_count"],
                        attempts_used=row["attempt_count"] - row["budget_start"],
                        lease_token=row["lease_token"],
                        url=row["url"],
                        signing_secrets=tuple(signing),
                        payload=row["payload"],
                    )
                )
                if row["old_token"] is not None:
                    abandoned.append(
                        (row["id"], row["attempt_count"] - 1, row["old_leased_at"])
                    )
            if abandoned:
                await session.execute(
                    _RECORD_ABANDONED,
                    {
                        "ids": [item[0] for item in abandoned],
                        "attempts": [item[1] for item in abandoned],
                        "started": [item[2] for item in abandoned],
                        "detail": ABANDONED_DETAIL,
                    },
                )
        return leased

    async def record(
        self, outcomes: Sequence[Outcome], disable_after_hours: float
    ) -> Recorded:
        """Log each attempt and move each delivery to its next step (one
        statement), and update the endpoints' health, disabling (with an event
        for the account) those that answered 410 or failed too long; all in
        one transaction. A result whose lease was lost is logged as an
        attempt but leaves the delivery as the newer lease holder set it."""
        succeeded = {o.delivery.endpoint_id for o in outcomes if o.result.delivered}
        async with transaction(self._sessions) as session:
            applied = frozenset(
                await session.scalars(
                    _RECORD, {**_columns(outcomes), "succeeded": list(succeeded)}
                )
            )
            disabled = await self._note_failures(
                session, outcomes, succeeded, disable_after_hours
            )
            for endpoint in disabled:
                await record_event(
                    session,
                    event_type="webhook.endpoint_disabled",
                    account_id=endpoint.account_id,
                    subject=str(endpoint.id),
                    data=endpoint_read(endpoint).model_dump(mode="json"),
                )
        return Recorded(applied, tuple(disabled))

    @staticmethod
    async def _note_failures(
        session: AsyncSession,
        outcomes: Sequence[Outcome],
        succeeded: set[uuid.UUID],
        disable_after_hours: float,
    ) -> list[WebhookEndpointRow]:
        """Start the failure clock of endpoints with no success in this batch,
        and disable those that answered 410 or have failed too long."""
        failing = {o.delivery.endpoint_id for o in outcomes} - succeeded
        gone = {
            o.delivery.endpoint_id: o.step.disable_reason
            for o in outcomes
            if o.step.disable_reason is not None
        }
        endpoints = WebhookEndpointRow
        if not failing:
            return []
        await session.execute(
            update(endpoints)
            .where(endpoints.id.in_(failing), endpoints.failing_since.is_(None))
            .values(failing_since=func.now())
        )
        disabled: list[WebhookEndpointRow] = []
        for endpoint_id, reason in gone.items():
            disabled += await session.scalars(
                update(endpoints)
                .where(endpoints.id == endpoint_id, endpoints.enabled)
                .values(enabled=False, disabled_reason=reason, updated_at=func.now())
                .returning(endpoints)
            )
        disabled += await session.scalars(
            update(endpoints)
            .where(
                endpoints.id.in_(failing - gone.keys()),
                endpoints.enabled,
                endpoints.failing_since
                <= func.now() - timedelta(hours=disable_after_hours),
            )
            .values(
                enabled=False,
                disabled_reason="every attempt failed for more than "
                f"{disable_after_hours:g} hours",
                updated_at=func.now(),
            )
            .returning(endpoints)
        )
        return disabled


def _columns(outcomes: Sequence[Outcome]) -> dict[str, list[object]]:
    return {
        "ids": [o.delivery.id for o in outcomes],
        "tokens": [o.delivery.lease_token for o in outcomes],
        "attempts": [o.delivery.attempt for o in outcomes],
        "started": [o.result.started_at for o in outcomes],
        "durations": [o.result.duration_ms for o in outcomes],
        "statuses": [o.result.status for o in outcomes],
        "bodies": [o.result.body for o in outcomes],
        "error_classes": [o.result.error_class for o in outcomes],
        "error_details": [o.result.error_detail for o in outcomes],
        "states": [o.step.status.value for o in outcomes],
        "delays": [o.step.delay_seconds for o in outcomes],
    }
