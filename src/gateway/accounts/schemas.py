"""How an account looks in the API and in its events."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field

from domain.accounts.model import Account, AccountStatus


class AccountRead(BaseModel):
    id: uuid.UUID
    name: str
    timezone: str = Field(description="IANA time zone for reports and deadlines.")
    currency: str = Field(description="Default ISO 4217 currency.")
    status: AccountStatus


def account_read(account: Account) -> AccountRead:
    return AccountRead(
        id=account.id,
        name=account.name,
        timezone=account.timezone,
        currency=account.currency,
        status=account.status,
    )
