"""The account: a customer company (dealer, partner) that owns its data."""

from __future__ import annotations

import enum
import uuid
import zoneinfo
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache

from domain.errors import InvalidInputError
from domain.money import fits_amount, require_currency_code

MAX_NAME_LENGTH = 200


class AccountStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


@cache
def _known_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def require_time_zone(name: str) -> str:
    """Return ``name`` if it is an IANA time zone such as ``Europe/Berlin``."""
    if name not in _known_time_zones():
        raise InvalidInputError(
            f"'{name[:64]}' is not an IANA time zone such as 'Europe/Berlin'",
            field="timezone",
        )
    return name


def require_account_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > MAX_NAME_LENGTH:
        raise InvalidInputError(
            f"an account name must have 1 to {MAX_NAME_LENGTH} characters",
            field="name",
        )
    return cleaned


@dataclass(frozen=True, slots=True)
class Account:
    """A customer company. Every user, key and record belongs to exactly one."""

    id: uuid.UUID
    name: str
    timezone: str
    currency: str
    status: AccountStatus
    created_at: datetime

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """The account's time zone, for its reports and deadlines."""
        return zoneinfo.ZoneInfo(self.timezone)


@dataclass(frozen=True, slots=True)
class NewAccount:
    """A validated request to open an account."""

    name: str
    timezone: str
    currency: str
    #: Orders with a larger total wait for an approver; None: never.
    approval_threshold: Decimal | None = None

    @classmethod
    def create(
        cls,
        *,
        name: str,
        timezone: str,
        currency: str,
        approval_threshold: Decimal | None = None,
    ) -> NewAccount:
        if approval_threshold is not None and not fits_amount(approval_threshold):
            raise InvalidInputError(
                "an approval threshold is a positive amount with at most 16 digits "
                "before the point and 4 after",
                field="approval_threshold",
            )
        return cls(
            name=require_account_name(name),
            timezone=require_time_zone(timezone),
            currency=require_currency_code(currency),
            approval_threshold=approval_threshold,
        )
