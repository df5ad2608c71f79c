"""The changes feed and the live stream: an account's events in commit order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sse_starlette import EventSourceResponse

from domain.accounts.scopes import Scope
from domain.errors import InvalidInputError
from gateway.accounts.service import Principal
from gateway.api.dependencies import DbSession, get_sessions, require, still_allowed
from gateway.api.problems import problem_responses
from gateway.api.routing import PorticoRoute
from gateway.api.types import StreamPosition
from gateway.events.catalog import EVENT_TYPES
from gateway.events.envelope import cloudevent
from gateway.events.feed import events_after, latest_position
from gateway.events.notifier import Notifier
from gateway.logs import get_logger

log = get_logger(__name__)
router = APIRouter(prefix="/v1/events", route_class=PorticoRoute, tags=["events"])

EventsReader = Annotated[Principal, Depends(require(Scope.EVENTS_READ))]
Sessions = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)]
MAX_LIMIT = 500
#: How often a quiet stream looks again even without a notification.
STREAM_POLL_SECONDS = 1.0
#: How often the stream sends a comment to keep proxies from closing it. The
#: caller's key is checked again before each one and before each batch of
#: events: a revoked key or a suspended account ends the stream.
HEARTBEAT_SECONDS = 15.0
STREAM_BATCH = 100


class CloudEventRead(BaseModel):
    """A CloudEvent 1.0 in JSON form."""

    specversion: str = Field(examples=["1.0"])
    id: str = Field(description="Unique per event; consumers drop duplicates by it.")
    source: str
    type: str = Field(examples=["order.status_changed"])
    subject: str = Field(description="The id of the entity the event is about.")
    time: datetime
    datacontenttype: str
    sequence: str = Field(description="Commit-order position; pass as ?after=.")
    correlationid: str | None = None
    data: dict[str, Any]


class EventPage(BaseModel):
    events: list[CloudEventRead]
    next_after: int = Field(
        description="Position to pass as ?after= next; unchanged when nothing is new."
    )


def _types(types: list[str] | None) -> frozenset[str]:
    wanted = frozenset(types or ())
    unknown = sorted(wanted - EVENT_TYPES.keys())
    if unknown:
        raise InvalidInputError(
            f"unknown event type(s) {', '.join(unknown)}; known: "
            f"{', '.join(sorted(EVENT_TYPES))}",
            field="types",
        )
    return wanted


TypesFilter = Annotated[
    list[str] | None, Query(description="Event types to include; repeatable.")
]


@router.get(
    "",
    summary="The account's events after a position, in commit order",
    responses=problem_responses(401, 403, 422),
)
async def read_events(
    principal: EventsReader,
    session: DbSession,
    after: Annotated[
        StreamPosition, Query(description="Last position seen; 0 for all.")
    ] = 0,
    types: TypesFilter = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> EventPage:
    rows = await events_after(
        session, principal.account.id, after, _types(types), limit
    )
    events = [CloudEventRead.model_validate(cloudevent(row)) for row in rows]
    return EventPage(
        events=events,
        next_after=rows[-1].position if rows and rows[-1].position else after,
    )


@router.get(
    "/stream",
    summary="Live Server-Sent Events of the account's events",
    response_class=EventSourceResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "Each event's `id:` is its position; send it back as "
            "Last-Event-ID to resume. Comments are sent as heartbeats. "
            "The key is checked again before each heartbeat and each batch of "
            "events: the stream ends, sending nothing more, once the key is "
            "revoked or its account suspended.",
        },
        **problem_responses(401, 403, 422),
    },
)
async def stream_events(
    request: Request,
    principal: EventsReader,
    sessions: Sessions,
    types: TypesFilter = None,
    after: Annotated[
        StreamPosition | None, Query(description="Resume after this position.")
    ] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> EventSourceResponse:
    wanted = _types(types)
    account_id = principal.account.id
    start = _resume_position(after, last_event_id)
    if start is None:
        async with sessions() as session:
            start = await latest_position(session, account_id)
    notifier: Notifier = request.app.state.events_notifier

    async def events() -> AsyncIterator[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        position = start
        next_heartbeat = loop.time() + HEARTBEAT_SECONDS
        while not await request.is_disconnected():
            heartbeat_due = loop.time() >= next_heartbeat
            async with sessions() as session:
                rows = await events_after(
                    session, account_id, position, wanted, STREAM_BATCH
                )
                # Checked after the read, so nothing read is sent unless the
                # key still held once it was read; once per batch, not per event.
                if (rows or heartbeat_due) and not await still_allowed(
                    session, principal, Scope.EVENTS_READ
                ):
                    log.info(
                        "events.stream.credential_lapsed",
                        key_prefix=f"pk_{principal.key.prefix}",
                    )
                    return
            for row in rows:
                assert row.position is not None
                position = row.position
                yield {
                    "id": str(row.position),
                    "event": row.type,
                    "data": orjson.dumps(cloudevent(row)).decode(),
                }
            if heartbeat_due:
                next_heartbeat = loop.time() + HEARTBEAT_SECONDS
                yield {"comment": "heartbeat"}
            if not rows:
                await notifier.wait(
                    min(STREAM_POLL_SECONDS, max(next_heartbeat - loop.time(), 0.0))
                )

    # Heartbeats come from the loop above, after the key was checked again.
    return EventSourceResponse(events(), ping=0)


def _resume_position(after: int | None, last_event_id: str | None) -> int | None:
    if after is not None:
        return after
    if last_event_id is None:
        return None
    if (
        not last_event_id.isascii()
        or not last_event_id.isdigit()
        or len(last_event_id) > 18
    ):
        raise InvalidInputError(
            "Last-Event-ID must be the id of an event this stream sent",
            field="Last-Event-ID",
        )
    return int(last_event_id)
