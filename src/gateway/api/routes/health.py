"""Liveness and readiness, for the orchestrator rather than for partners."""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.api.errors import ApiError
from gateway.api.problems import SERVICE_UNAVAILABLE, problem_responses
from gateway.api.routing import PorticoRoute
from gateway.db.migrations import current_revision, head_revision

router = APIRouter(route_class=PorticoRoute, tags=["operations"])

READINESS_TIMEOUT_SECONDS = 2.0


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready"]
    schema_revision: str


@router.get("/healthz", summary="The process is alive")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="The database answers and its schema is current",
    responses=problem_responses(503),
)
async def readyz(request: Request) -> Readiness:
    engine: AsyncEngine = request.app.state.engine
    try:
        revision = await asyncio.wait_for(
            current_revision(engine), READINESS_TIMEOUT_SECONDS
        )
    except (TimeoutError, OSError) as error:
        raise ApiError(
            SERVICE_UNAVAILABLE,
            f"the database does not answer ({type(error).__name__})",
        ) from None
    except Exception as error:
        # Any driver failure means "not ready"; the kind is enough for an operator.
        raise ApiError(
            SERVICE_UNAVAILABLE, f"the database check failed ({type(error).__name__})"
        ) from None
    expected = head_revision()
    if revision != expected:
        raise ApiError(
            SERVICE_UNAVAILABLE,
            f"the schema is at {revision or 'nothing'}, the code expects {expected}; "
            "run 'portico db upgrade'",
        )
    return Readiness(status="ready", schema_revision=revision or "")
