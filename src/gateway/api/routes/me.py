"""Who am I: the caller's account and key, as the credential says."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from gateway.accounts.schemas import AccountRead, account_read
from gateway.api.dependencies import CurrentPrincipal
from gateway.api.problems import problem_responses
from gateway.api.routing import PorticoRoute

router = APIRouter(prefix="/v1", route_class=PorticoRoute, tags=["account"])


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
        account=account_read(account),
        key=ApiKeyRead(
            id=key.id,
            prefix=key.display_prefix,
            name=key.name,
            scopes=sorted(scope.value for scope in key.scopes),
            created_at=key.created_at,
            last_used_at=key.last_used_at,
        ),
    )
