"""The usage report as the API returns it."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime

from pydantic import BaseModel, Field

from gateway.usage.capabilities import CAPABILITIES, Capability
from gateway.usage.repository import AccountName, CapabilityCounter


class CapabilityUsage(BaseModel):
    """One account's use of one capability."""

    capability: Capability
    requests: int = Field(
        description="Requests with a valid API key that reached the "
        "capability's routes, whatever the answer."
    )
    client_errors: int = Field(
        description="Of those, answered 4xx: a missing scope, an unknown id, bad input."
    )
    server_errors: int = Field(description="Of those, answered 5xx.")
    first_used_at: datetime
    last_used_at: datetime


class AccountUsage(BaseModel):
    account_id: uuid.UUID
    name: str
    used: list[CapabilityUsage] = Field(
        description="The capabilities the account has used, in the order of "
        "`capabilities`."
    )
    unused: list[Capability] = Field(
        description="The capabilities the account has never used."
    )


class UsageReport(BaseModel):
    capabilities: list[Capability] = Field(
        description="Every capability usage is counted for."
    )
    unused: list[Capability] = Field(
        description="The capabilities no account has used: candidates to take "
        "out of the portal."
    )
    accounts: list[AccountUsage] = Field(
        description="One page of accounts, by name, with what each uses."
    )
    next_cursor: str | None


def capability_usage(counter: CapabilityCounter) -> CapabilityUsage:
    return CapabilityUsage(
        capability=counter.capability,
        requests=counter.requests,
        client_errors=counter.client_errors,
        server_errors=counter.server_errors,
        first_used_at=counter.first_used_at,
        last_used_at=counter.last_used_at,
    )


def account_usage(
    account: AccountName, counters: Sequence[CapabilityCounter]
) -> AccountUsage:
    used = {counter.capability for counter in counters}
    return AccountUsage(
        account_id=account.id,
        name=account.name,
        used=[capability_usage(counter) for counter in counters],
        unused=[capability for capability in CAPABILITIES if capability not in used],
    )


def unused_overall(used: Collection[Capability]) -> list[Capability]:
    return [capability for capability in CAPABILITIES if capability not in used]
