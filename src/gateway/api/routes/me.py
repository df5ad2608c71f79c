"""Who am I: the caller's account and key, as the credential says."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from domain.accounts.model import AccountStatus
from gateway.api.dependencies import CurrentPrincipal
from gateway.api.problems import problem_responses
from gateway.api.routing import PorticoRoute

router = APIRouter(prefix="/v1", route_class=PorticoRoute, tags=["account"])


class AccountRead(BaseModel):
    id: uuid.UUID
    name: str
    timezone: str = Field(description="IANA time zone for reports and deadlines.")
    currency: str = Field(description="Default ISO 4217 currency.")
    status: AccountStatus


class ApiKeyRead(BaseModel):
    id: uuid.UUID
    prefix: str = Field(examples=["pk_ab12cd34"])
    name: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None


class MeRead(BaseModel):
    account: AccountRead
    key: ApiKeyRead


@router.get(
    "/me",
    summary="The caller's account and API key",
    responses=problem_responses(401),
)
async def read_me(principal: CurrentPrincipal) -> MeRead:
    account, key = principal.account, principal.key
    return MeRead(
        account=AccountRead(
            id=account.id,
            name=account.name,
            timezone=account.timezone,
            currency=account.currency,
            status=account.status,
        ),
        key=ApiKeyRead(
            id=key.id,
            prefix=key.display_prefix,
            name=key.name,
            scopes=sorted(scope.value for scope in key.scopes),
            created_at=key.created_at,
            last_used_at=key.last_used_at,
        ),
    )
