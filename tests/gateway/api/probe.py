"""A router that exists only in tests, to drive the shared API machinery
(parsing, validation, scopes, error handling) before feature routes use it."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from domain.accounts.scopes import Scope
from gateway.accounts.service import Principal
from gateway.api.dependencies import require
from gateway.api.routing import PorticoRoute
from gateway.api.types import MoneyModel, Timestamp

router = APIRouter(prefix="/probe", route_class=PorticoRoute)


class ProbeLine(BaseModel):
    quantity: int = Field(gt=0, le=1_000_000)
    price: MoneyModel
    requested_at: Timestamp


@router.post("/echo")
async def echo(line: ProbeLine) -> ProbeLine:
    return line


@router.get("/plain-money")
async def plain_money() -> dict[str, Any]:
    # A handler that builds a plain dict rather than using a response model.
    return {
        "big": MoneyModel(
            amount=Decimal("1234567890123456.78"), currency="EUR"
        ).model_dump(),
        "small": MoneyModel(amount=Decimal("0.10"), currency="EUR").model_dump(),
    }


@router.get("/model-money")
async def model_money() -> list[MoneyModel]:
    return [
        MoneyModel(amount=Decimal("1234567890123456.78"), currency="EUR"),
        MoneyModel(amount=Decimal("0.10"), currency="EUR"),
    ]


@router.get("/orders-write")
async def needs_orders_write(
    principal: Annotated[Principal, Depends(require(Scope.ORDERS_WRITE))],
) -> dict[str, str]:
    return {"account": str(principal.account.id)}


@router.get("/boom")
async def boom() -> None:
    raise RuntimeError("connection string postgresql://admin:hunter2@db/internal")
