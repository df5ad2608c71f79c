"""Service levels: how soon the supplier answers and settles a claim.

Hours count on working days only, Monday to Friday in the account's own
time zone, so a claim filed on Friday evening is not overdue on Sunday. A
working day runs midnight to midnight in that zone; a day of 23 or 25 hours
(a daylight-saving change) counts as it really is.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Final

from domain.claims.model import ClaimType

_SATURDAY: Final = 5


@dataclass(frozen=True, slots=True)
class ServiceLevel:
    """Working hours to the first answer and to the settlement."""

    first_answer_hours: int
    resolution_hours: int


SERVICE_LEVELS: Final[dict[ClaimType, ServiceLevel]] = {
    ClaimType.COMPLAINT: ServiceLevel(first_answer_hours=24, resolution_hours=120),
    ClaimType.RETURN: ServiceLevel(first_answer_hours=48, resolution_hours=240),
    ClaimType.WARRANTY: ServiceLevel(first_answer_hours=72, resolution_hours=480),
}


@dataclass(frozen=True, slots=True)
class SlaDue:
    first_answer_due_at: datetime
    resolution_due_at: datetime


def due_times(
    claim_type: ClaimType, filed_at: datetime, zone: zoneinfo.ZoneInfo
) -> SlaDue:
    """When the supplier's first answer and settlement are due."""
    level = SERVICE_LEVELS[claim_type]
    return SlaDue(
        first_answer_due_at=add_working_hours(filed_at, level.first_answer_hours, zone),
        resolution_due_at=add_working_hours(filed_at, level.resolution_hours, zone),
    )


def add_working_hours(start: datetime, hours: int, zone: zoneinfo.ZoneInfo) -> datetime:
    """``start`` plus ``hours`` of working-day time in ``zone``, as an aware
    time in ``zone``. Time on Saturdays and Sundays does not count."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    remaining = timedelta(hours=hours)
    # Arithmetic in UTC counts elapsed time; the zone only draws the days.
    current = start.astimezone(UTC)
    while True:
        local = current.astimezone(zone)
        next_day = datetime.combine(
            local.date() + timedelta(days=1), time.min, zone
        ).astimezone(UTC)
        if local.weekday() >= _SATURDAY:
            current = next_day
            continue
        left_today = next_day - current
        if remaining <= left_today:
            return (current + remaining).astimezone(zone)
        remaining -= left_today
        current = next_day
