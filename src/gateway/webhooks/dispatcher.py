"""The dispatcher: sends leased deliveries and records what happened.

A round keeps up to ``dispatch_batch`` leased deliveries (see
``gateway.webhooks.queue``) in flight, each sent as one signed POST under the
transport's total deadline, and records the results as they come:
results that arrive close together are written in one transaction, so the
bookkeeping stays cheap under load (a result waits at most
``RECORD_LINGER_SECONDS`` for company). A delivery is recorded at most about
``timeout_seconds`` plus the linger after it was leased, well inside the
lease; a slow receiver holds its own request's place, not the others'.

Each request carries the Standard Webhooks headers: ``webhook-id`` (the event
id, the same on every attempt, every endpoint and every replay, so receivers
drop duplicates by it), ``webhook-timestamp`` (this attempt's time) and
``webhook-signature`` (over the stored body bytes, by the current secret and,
during a rotation's grace period, the previous one too).

Delivery is at least once: a worker killed mid-send leaves a lease that runs
out, and the delivery goes again with the same ``webhook-id``.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from math import floor

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.logs import get_logger
from gateway.webhooks.queue import DeliveryQueue, LeasedDelivery, Outcome, Recorded
from gateway.webhooks.retries import RetrySchedule
from gateway.webhooks.settings import WebhookSettings
from gateway.webhooks.signing import signature_header
from gateway.webhooks.states import DeliveryStatus
from gateway.webhooks.transport import AttemptResult, WebhookTransport

log = get_logger(__name__)

_JSON = b"application/json"
#: How long a finished attempt waits for others to share its transaction.
RECORD_LINGER_SECONDS = 0.05
#: A round stops leasing after this long, so the worker's loop (and its
#: shutdown) gets control back even under endless load.
MAX_ROUND_SECONDS = 10.0


class _Flight:
    """The requests of one round in the air, and their results as they land."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.in_air = 0
        self.results: asyncio.Queue[Outcome | None] = asyncio.Queue()
        self.half_empty = asyncio.Event()
        self.half_empty.set()
        self.empty = asyncio.Event()
        self.empty.set()

    @property
    def room(self) -> int:
        return self.capacity - self.in_air

    def took_off(self, count: int) -> None:
        self.in_air += count
        self.empty.clear()
        if self.in_air > self.capacity // 2:
            self.half_empty.clear()

    def landed(self, outcome: Outcome) -> None:
        self.results.put_nowait(outcome)
        self.in_air -= 1
        if self.in_air <= self.capacity // 2:
            self.half_empty.set()
        if self.in_air == 0:
            self.empty.set()


def webhook_headers(
    delivery: LeasedDelivery, sent_at: datetime
) -> list[tuple[bytes, bytes]]:
    message_id = str(delivery.event_id)
    return [
        (b"content-type", _JSON),
        (b"webhook-id", message_id.encode()),
        (b"webhook-timestamp", str(floor(sent_at.timestamp())).encode()),
        (
            b"webhook-signature",
            signature_header(
                delivery.signing_secrets, message_id, sent_at, delivery.payload
            ).encode(),
        ),
    ]


class WebhookDispatcher:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: WebhookSettings,
        transport: WebhookTransport | None = None,
        schedule: RetrySchedule | None = None,
    ) -> None:
        self._settings = settings
        self._queue = DeliveryQueue(sessions)
        self._transport = transport or WebhookTransport(settings)
        self._schedule = schedule or RetrySchedule(settings)

    async def aclose(self) -> None:
        """Close the connection pool; call once when the worker stops."""
        await self._transport.aclose()

    async def run_once(self) -> int:
        """Send what is due; return how many deliveries were leased.

        Keeps up to ``dispatch_batch`` requests in flight, leasing more
        whenever half of them have finished, until nothing more is due or
        ``MAX_ROUND_SECONDS`` have passed; returns once the last result is
        recorded.
        """
        loop = asyncio.get_running_loop()
        stop_leasing = loop.time() + MAX_ROUND_SECONDS
        flight = _Flight(self._settings.dispatch_batch)
        leased_in_all = 0
        async with asyncio.TaskGroup() as group:
            group.create_task(self._record_as_they_come(flight.results))
            while loop.time() < stop_leasing:
                leased = await self._queue.lease(
                    flight.room, self._settings.lease_seconds
                )
                if not leased:
                    break
                leased_in_all += len(leased)
                flight.took_off(len(leased))
                for delivery in leased:
                    group.create_task(self._send(delivery, flight))
                await flight.half_empty.wait()
            await flight.empty.wait()
            flight.results.put_nowait(None)
        return leased_in_all

    async def _send(self, delivery: LeasedDelivery, flight: _Flight) -> None:
        flight.landed(await self._attempt(delivery))

    async def _record_as_they_come(
        self, results: asyncio.Queue[Outcome | None]
    ) -> None:
        """Record results in batches until the end of the round (None): a batch
        starts with the next result and takes the others that arrive within
        ``RECORD_LINGER_SECONDS``, so results share transactions, while a slow
        receiver delays the others' bookkeeping by that much at most."""
        loop = asyncio.get_running_loop()
        ended = False
        while not ended:
            first = await results.get()
            if first is None:
                return
            batch = [first]
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(loop.time() + RECORD_LINGER_SECONDS):
                    while (outcome := await results.get()) is not None:
                        batch.append(outcome)
                    ended = True
            await self._record(batch)

    async def _attempt(self, delivery: LeasedDelivery) -> Outcome:
        sent_at = datetime.now(UTC)
        try:
            headers = webhook_headers(delivery, sent_at)
        except Exception as error:
            # A delivery that cannot be signed must not stall the others.
            log.exception("webhook.delivery.unsignable", delivery_id=str(delivery.id))
            result = AttemptResult(
                started_at=sent_at,
                duration_ms=0,
                error_class="internal_error",
                error_detail=type(error).__name__,
            )
        else:
            result = await self._transport.send(delivery.url, headers, delivery.payload)
        step = self._schedule.next_step(result, delivery.attempts_used)
        return Outcome(delivery, result, step)

    async def _record(self, outcomes: list[Outcome]) -> None:
        recorded = await self._queue.record(
            outcomes, self._settings.disable_after_hours
        )
        for outcome in outcomes:
            _log_outcome(outcome, recorded)
        for endpoint in recorded.disabled_endpoints:
            log.error(
                "webhook.endpoint.disabled",
                endpoint_id=str(endpoint.id),
                account_id=str(endpoint.account_id),
                reason=endpoint.disabled_reason,
            )


def _log_outcome(outcome: Outcome, recorded: Recorded) -> None:
    delivery, result, step = outcome.delivery, outcome.result, outcome.step
    fields: dict[str, object] = {
        "delivery_id": str(delivery.id),
        "endpoint_id": str(delivery.endpoint_id),
        "account_id": str(delivery.account_id),
        "event_id": str(delivery.event_id),
        "event_type": delivery.event_type,
        "attempt": delivery.attempt,
        "response_status": result.status,
        "duration_ms": result.duration_ms,
    }
    if delivery.id not in recorded.applied:
        log.warning("webhook.delivery.lease_lost", outcome=step.status, **fields)
    elif step.status is DeliveryStatus.DELIVERED:
        log.info("webhook.delivery.delivered", **fields)
    elif step.status is DeliveryStatus.PENDING:
        log.warning(
            "webhook.delivery.retry_scheduled",
            error_class=result.error_class,
            retry_in_seconds=round(step.delay_seconds or 0.0, 1),
            **fields,
        )
    else:
        log.error(
            "webhook.delivery.failed",
            error_class=result.error_class,
            error_detail=result.error_detail,
            **fields,
        )
