"""What happens after an attempt: delivered, tried again later, or given up.

The schedule is exponential with full jitter: after the n-th failed attempt
the wait is drawn uniformly between 0 and ``min(retry_max, retry_base *
2**(n-1))``. Jitter spreads the retries of many deliveries that failed
together (a receiver's outage) instead of sending them back in one wave. With
the defaults (30 s doubling to 12 h, 23 attempts) the ceilings add up to about
six days, so the expected span from the first attempt to the last is about
three days.

- 2xx: delivered.
- 410 Gone: failed now, and the endpoint is disabled.
- A refused target (internal address, http while https is required): failed
  now; no retry can succeed until the endpoint or the settings change.
- Anything else (a non-2xx status, redirect, timeout, connection or DNS
  failure): retried, while attempts remain. On 429 and 503, a Retry-After is
  honoured up to ``retry_after_max_seconds``: the wait is at least that long.
- Out of attempts: failed. A failed delivery stays in the log and can be
  retried by hand or replayed.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from gateway.webhooks.settings import WebhookSettings
from gateway.webhooks.states import DeliveryStatus
from gateway.webhooks.transport import AttemptResult


@dataclass(frozen=True, slots=True)
class NextStep:
    status: DeliveryStatus
    #: Wait before the next attempt; set only while pending.
    delay_seconds: float | None = None
    #: Set when the endpoint must be disabled now, saying why.
    disable_reason: str | None = None


class RetrySchedule:
    def __init__(
        self,
        settings: WebhookSettings,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self._settings = settings
        self._uniform = uniform

    def ceiling(self, failures: int) -> float:
        """The longest wait after the ``failures``-th failed attempt."""
        exponent = min(max(failures - 1, 0), 64)
        return min(
            self._settings.retry_max_seconds,
            self._settings.retry_base_seconds * 2.0**exponent,
        )

    def next_step(self, result: AttemptResult, attempts_used: int) -> NextStep:
        """The delivery's next step after ``result``, its ``attempts_used``-th
        attempt of the current budget."""
        if result.delivered:
            return NextStep(DeliveryStatus.DELIVERED)
        if result.gone:
            return NextStep(
                DeliveryStatus.FAILED,
                disable_reason="the receiver answered 410 Gone",
            )
        if result.permanent or attempts_used >= self._settings.max_attempts:
            return NextStep(DeliveryStatus.FAILED)
        delay = self._uniform(0.0, self.ceiling(attempts_used))
        if result.retry_after is not None:
            delay = max(
                delay, min(result.retry_after, self._settings.retry_after_max_seconds)
            )
        return NextStep(DeliveryStatus.PENDING, delay_seconds=delay)
