"""Message bodies and queuing deliveries of them.

A message is one event's body as a JSON CloudEvent, rendered once and kept:
the same bytes go to every endpoint, on every retry and every replay, with
``webhook-id`` = the event id (case C12). orjson writes non-ASCII text as
UTF-8, never as escapes, and money stays the decimal string the event holds.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from sqlalchemy import func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.tables import (
    OutboxRow,
    WebhookDeliveryRow,
    WebhookEndpointRow,
    WebhookMessageRow,
)
from gateway.events.envelope import SOURCE, SPEC_VERSION, cloudevent
from gateway.webhooks.states import DeliveryOrigin

PING_TYPE = "webhook.ping"
#: Notified in the transaction that makes deliveries due: dispatchers wake
#: when it commits instead of at their next tick.
DELIVERIES_CHANNEL = "portico_webhook_deliveries"
#: Rows per INSERT, well under PostgreSQL's 32,767 bind parameters.
INSERT_CHUNK = 1000
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Message:
    event_id: uuid.UUID
    account_id: uuid.UUID
    type: str
    subject: str
    payload: bytes


def event_message(row: OutboxRow) -> Message:
    return Message(
        event_id=row.event_id,
        account_id=row.account_id,
        type=row.type,
        subject=row.subject,
        payload=orjson.dumps(cloudevent(row)),
    )


def ping_message(endpoint: WebhookEndpointRow) -> Message:
    """A test message. It is no catalog event: it exists for this endpoint
    only, never in the outbox, the feed or Kafka."""
    event_id = uuid.uuid4()
    envelope: dict[str, Any] = {
        "specversion": SPEC_VERSION,
        "id": str(event_id),
        "source": SOURCE,
        "type": PING_TYPE,
        "subject": str(endpoint.id),
        "time": datetime.now(UTC).isoformat(),
        "datacontenttype": "application/json",
        "data": {
            "endpoint_id": str(endpoint.id),
            "message": "A test delivery from Portico; no action is needed.",
        },
    }
    return Message(
        event_id=event_id,
        account_id=endpoint.account_id,
        type=PING_TYPE,
        subject=str(endpoint.id),
        payload=orjson.dumps(envelope),
    )


def accepts(endpoint: WebhookEndpointRow, event_type: str) -> bool:
    return not endpoint.event_types or event_type in endpoint.event_types


async def stored_messages(
    session: AsyncSession, event_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Message]:
    """Messages already rendered for these events, to be sent unchanged."""
    ids = list(event_ids)
    if not ids:
        return {}
    rows = await session.scalars(
        select(WebhookMessageRow).where(WebhookMessageRow.event_id.in_(ids))
    )
    return {
        row.event_id: Message(
            row.event_id, row.account_id, row.type, row.subject, row.payload
        )
        for row in rows
    }


async def queue_deliveries(
    session: AsyncSession,
    targets: Sequence[tuple[Message, WebhookEndpointRow]],
    origin: DeliveryOrigin,
) -> list[uuid.UUID]:
    """Store the messages (an already stored one is kept as it is) and one
    pending delivery per (message, endpoint), due now, in the given order."""
    if not targets:
        return []
    messages = list({message.event_id: message for message, _ in targets}.values())
    for message_chunk in _chunks(messages):
        await session.execute(
            pg_insert(WebhookMessageRow)
            .values(
                [
                    {
                        "event_id": message.event_id,
                        "account_id": message.account_id,
                        "type": message.type,
                        "subject": message.subject,
                        "payload": message.payload,
                    }
                    for message in message_chunk
                ]
            )
            .on_conflict_do_nothing(index_elements=["event_id"])
        )
    ids = [uuid.uuid4() for _ in targets]
    rows: list[dict[str, object]] = [
        {
            "id": delivery_id,
            "account_id": endpoint.account_id,
            "endpoint_id": endpoint.id,
            "event_id": message.event_id,
            "event_type": message.type,
            "subject": message.subject,
            "origin": origin.value,
        }
        for delivery_id, (message, endpoint) in zip(ids, targets, strict=True)
    ]
    # One multi-row INSERT per chunk, rows in order: ``seq`` follows it.
    for rows_chunk in _chunks(rows):
        await session.execute(insert(WebhookDeliveryRow).values(list(rows_chunk)))
    await wake_dispatchers(session)
    return ids


async def wake_dispatchers(session: AsyncSession) -> None:
    """Tell listening dispatchers, once ``session`` commits, that work is due."""
    await session.execute(select(func.pg_notify(DELIVERIES_CHANNEL, "")))


def _chunks(items: Sequence[T], size: int = INSERT_CHUNK) -> Iterator[Sequence[T]]:
    """Slices small enough for PostgreSQL's limit of bind parameters."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
