"""What the demo reports when the replay is done, read from where it landed.

Every figure comes from the system that holds it: order, claim, document
and delivery counts from Portico's tables, events from the Kafka broker's
own end offsets, webhook verification from the dealer receiver. Nothing is
counted by the replay itself except its own API calls and errors.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.db.tables import (
    ClaimEventRow,
    DocumentRow,
    OrderEventRow,
    OutboxRow,
    WebhookDeliveryRow,
)
from gateway.demo.receiver import ReceiverTally
from gateway.demo.replay import ReplayResult

__all__ = ["DemoSummary", "kafka_messages", "summarise"]


@dataclass(frozen=True, slots=True)
class DemoSummary:
    scale: float
    dealers: int
    orders_planned: int
    orders_placed: int
    orders_reached: dict[str, int]
    claims_filed: int
    claims_reached: dict[str, int]
    documents: dict[str, int]
    events_committed: int
    events_published: int
    kafka_messages: int | None
    deliveries: dict[str, int]
    receiver: ReceiverTally
    api_calls: int
    latency_p50_ms: float
    latency_p95_ms: float
    errors: tuple[str, ...]
    seconds: dict[str, float]

    def lines(self) -> list[str]:
        """The summary as the demo prints it."""
        reached = self.orders_reached
        claims = self.claims_reached
        tally = self.receiver
        kafka = "no broker" if self.kafka_messages is None else str(self.kafka_messages)
        documents = ", ".join(
            f"{n} {kind}" for kind, n in sorted(self.documents.items())
        )
        phases = ", ".join(f"{name} {s:.1f} s" for name, s in self.seconds.items())
        return [
            f"  Replayed:  {self.orders_planned} TPC-H orders (scale {self.scale:g}) "
            f"of {self.dealers} dealers, each with its own key and webhook endpoint",
            f"  Orders:    {self.orders_placed} placed, "
            f"{reached.get('accepted', 0)} accepted, "
            f"{reached.get('in_fulfilment', 0)} in fulfilment, "
            f"{reached.get('shipped', 0)} shipped, "
            f"{reached.get('invoiced', 0)} invoiced",
            f"  Claims:    {self.claims_filed} return claims filed, "
            f"{claims.get('approved', 0) + claims.get('rejected', 0)} decided, "
            f"{claims.get('resolved', 0)} resolved",
            f"  Documents: {documents or 'none'} indexed",
            f"  Events:    {self.events_committed} committed, "
            f"{self.events_published} relayed; a plain consumer read {kafka} "
            "distinct events from Kafka",
            f"  Webhooks:  {self.deliveries.get('delivered', 0)} delivered, "
            f"{self.deliveries.get('failed', 0)} failed; the receiver verified "
            f"{tally.verified} of {tally.received} "
            f"({tally.duplicates} redeliveries dropped, {tally.rejected} refused)",
            f"  API:       {self.api_calls} calls, p50 {self.latency_p50_ms:.1f} ms, "
            f"p95 {self.latency_p95_ms:.1f} ms",
            f"  Phases:    {phases}",
            f"  Errors:    {len(self.errors)}",
            *(f"    - {error}" for error in self.errors[:20]),
        ]


async def summarise(
    sessions: async_sessionmaker[AsyncSession],
    result: ReplayResult,
    *,
    scale: float,
    orders_planned: int,
    receiver: ReceiverTally,
    kafka_count: int | None,
) -> DemoSummary:
    """Read the replay's outcome back and list every error found on the way."""
    order_ids = list(result.order_ids.values())
    claim_ids = list(result.claim_ids.values())
    async with sessions() as session:
        orders_reached = await _reached(
            session, OrderEventRow.order_id, OrderEventRow.status, order_ids
        )
        claims_reached = await _reached(
            session, ClaimEventRow.claim_id, ClaimEventRow.status, claim_ids
        )
        documents = await _grouped(
            session, DocumentRow.type, DocumentRow.order_id.in_(order_ids)
        )
        deliveries = await _grouped(session, WebhookDeliveryRow.status, None)
        committed = int(
            await session.scalar(select(func.count()).select_from(OutboxRow)) or 0
        )
        published = int(
            await session.scalar(
                select(func.count()).where(OutboxRow.published_at.is_not(None))
            )
            or 0
        )
    errors = list(result.errors)
    if orders_reached.get("rejected"):
        errors.append(f"{orders_reached['rejected']} orders rejected by the ERP")
    if deliveries.get("failed"):
        errors.append(f"{deliveries['failed']} webhook deliveries failed")
    if receiver.rejected:
        errors.append(f"{receiver.rejected} webhook requests failed verification")
    if kafka_count is not None and kafka_count < published:
        errors.append(f"Kafka holds {kafka_count} events, {published} were relayed")
    return DemoSummary(
        scale=scale,
        dealers=len(result.dealers),
        orders_planned=orders_planned,
        orders_placed=len(order_ids),
        orders_reached=orders_reached,
        claims_filed=len(claim_ids),
        claims_reached=claims_reached,
        documents=documents,
        events_committed=committed,
        events_published=published,
        kafka_messages=kafka_count,
        deliveries=deliveries,
        receiver=dataclasses.replace(receiver),
        api_calls=len(result.latencies_ms),
        latency_p50_ms=result.latency(50),
        latency_p95_ms=result.latency(95),
        errors=tuple(errors),
        seconds=dict(result.seconds),
    )


async def kafka_messages(
    bootstrap_servers: str, topics: Sequence[str], *, idle_seconds: float = 2.0
) -> int:
    """How many distinct events (by their ``ce_id`` header) ``topics`` hold.

    Reads every partition from the beginning, as a plain consumer that
    Portico did not write would, until a fetch stays empty for
    ``idle_seconds``. End offsets would be cheaper but are not a message
    count on every broker: the embedded one advances them per record batch.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, enable_auto_commit=False
    )
    await consumer.start()
    try:
        await consumer.topics()  # loads the cluster's metadata
        partitions = [
            TopicPartition(topic, partition)
            for topic in topics
            for partition in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not partitions:
            return 0
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        seen: set[bytes] = set()
        while True:
            fetched = await consumer.getmany(timeout_ms=int(idle_seconds * 1000))
            if not fetched:
                return len(seen)
            for records in fetched.values():
                seen.update(_event_id(record) for record in records)
    finally:
        await consumer.stop()


def _event_id(record: Any) -> bytes:
    for name, value in record.headers:
        if name == "ce_id":
            return bytes(value)
    return b"no ce_id: " + bytes(record.value or b"")


async def _reached(
    session: AsyncSession, entity: Any, status: Any, ids: list[Any]
) -> dict[str, int]:
    """How many of ``ids`` had each status on their timeline at some point."""
    if not ids:
        return {}
    rows = await session.execute(
        select(status, func.count(func.distinct(entity)))
        .where(entity.in_(ids))
        .group_by(status)
    )
    return {str(name): int(count) for name, count in rows.all()}


async def _grouped(session: AsyncSession, column: Any, where: Any) -> dict[str, int]:
    statement = select(column, func.count()).group_by(column)
    if where is not None:
        statement = statement.where(where)
    rows = await session.execute(statement)
    return {str(name): int(count) for name, count in rows.all()}
