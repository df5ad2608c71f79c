"""The retry schedule: exponential ceilings, full jitter, about three days,
Retry-After honoured within its cap, and what ends a delivery at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.webhooks.retries import RetrySchedule
from gateway.webhooks.settings import WebhookSettings
from gateway.webhooks.states import DeliveryStatus
from gateway.webhooks.transport import AttemptResult, parse_retry_after

NOW = datetime(2025, 3, 30, 1, 30, tzinfo=UTC)


def result(**fields: object) -> AttemptResult:
    return AttemptResult(started_at=NOW, duration_ms=12, **fields)  # type: ignore[arg-type]


def highest(low: float, high: float) -> float:
    return high


def test_ceilings_double_from_the_base_up_to_the_cap() -> None:
    schedule = RetrySchedule(WebhookSettings())

    ceilings = [schedule.ceiling(n) for n in (1, 2, 3, 11, 12, 30)]

    assert ceilings == [30, 60, 120, 30_720, 43_200, 43_200]


def test_the_default_schedule_spans_about_three_days_on_average() -> None:
    settings = WebhookSettings()
    schedule = RetrySchedule(settings)

    waits = [schedule.ceiling(n) for n in range(1, settings.max_attempts)]

    expected = timedelta(seconds=sum(waits) / 2)
    assert timedelta(days=2.5) < expected < timedelta(days=3.5)


def test_each_wait_is_drawn_between_zero_and_its_ceiling() -> None:
    drawn: list[tuple[float, float]] = []

    def record(low: float, high: float) -> float:
        drawn.append((low, high))
        return high / 3

    schedule = RetrySchedule(WebhookSettings(), uniform=record)

    step = schedule.next_step(result(status=500, error_class="http_status"), 3)

    assert drawn == [(0.0, 120.0)]
    assert step == step.__class__(DeliveryStatus.PENDING, delay_seconds=40.0)


def test_retry_after_is_honoured_up_to_its_cap() -> None:
    schedule = RetrySchedule(
        WebhookSettings(retry_after_max_seconds=600), uniform=lambda low, high: low
    )

    asked = schedule.next_step(
        result(status=429, error_class="rate_limited", retry_after=90), 1
    )
    too_long = schedule.next_step(
        result(status=503, error_class="http_status", retry_after=86_400), 1
    )

    assert asked.delay_seconds == 90
    assert too_long.delay_seconds == 600


@pytest.mark.parametrize(
    ("fields", "attempts_used", "status", "disables"),
    [
        ({"status": 204}, 1, DeliveryStatus.DELIVERED, False),
        ({"status": 410, "error_class": "gone"}, 1, DeliveryStatus.FAILED, True),
        (
            {"error_class": "target_refused", "permanent": True},
            1,
            DeliveryStatus.FAILED,
            False,
        ),
        ({"error_class": "timeout"}, 22, DeliveryStatus.PENDING, False),
        ({"error_class": "timeout"}, 23, DeliveryStatus.FAILED, False),
    ],
)
def test_what_ends_a_delivery(
    fields: dict[str, object],
    attempts_used: int,
    status: DeliveryStatus,
    disables: bool,
) -> None:
    schedule = RetrySchedule(WebhookSettings(), uniform=highest)

    step = schedule.next_step(result(**fields), attempts_used)

    assert step.status is status
    assert (step.disable_reason is not None) is disables


def test_retry_after_is_read_as_seconds_or_as_a_date() -> None:
    later = NOW + timedelta(seconds=120)

    assert parse_retry_after(b"30", NOW) == 30
    assert (
        parse_retry_after(later.strftime("%a, %d %b %Y %H:%M:%S GMT").encode(), NOW)
        == 120
    )
    assert parse_retry_after(b"soon", NOW) is None
    assert parse_retry_after(None, NOW) is None
