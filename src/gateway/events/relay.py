"""The relay: committed events to Kafka, as CloudEvents in binary mode.

Publishes outbox rows in position (commit) order, keyed by the entity id so
one entity's events share a partition and keep their order, to one topic per
family under a prefix. Delivery is at least once: rows are marked published
only after the broker acknowledged them (acks=all), so a relay killed in the
middle of a batch publishes at most that batch again. Consumers drop
duplicates by the CloudEvent id.

Several worker replicas may run the relay; a transaction-level advisory lock
lets one publish at a time, which is what keeps an entity's events in order
across replicas. While the broker is down the relay backs off and loses
nothing: rows simply stay unpublished until it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from sqlalchemy import Text, cast, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.db.engine import transaction
from gateway.db.locks import advisory_lock_key
from gateway.db.tables import OutboxRow
from gateway.events.catalog import EVENT_FAMILIES, family_of
from gateway.events.envelope import SOURCE
from gateway.logs import get_logger
from gateway.settings import KafkaSettings

log = get_logger(__name__)

_LOCK = advisory_lock_key("portico.outbox.relay")
MAX_BACKOFF_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class RelayRow:
    """What the relay reads of an outbox row; ``data`` stays JSON text."""

    id: int
    position: int
    event_id: uuid.UUID
    type: str
    subject: str
    account_id: uuid.UUID
    correlation_id: str | None
    occurred_at: datetime
    data: str


def kafka_message(row: RelayRow) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """Key, value and headers of ``row`` in CloudEvents' Kafka binary mode.

    Written directly rather than through the CloudEvents SDK, which validates
    an event object and re-serialises its data on every message: a fifth of
    the relay's time in benchmark K1. The tests parse what is written here
    with the SDK's own Kafka binding, so the format stays the SDK's.
    """
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", str(row.event_id).encode()),
        ("ce_source", SOURCE.encode()),
        ("ce_type", row.type.encode()),
        ("ce_subject", row.subject.encode()),
        ("ce_time", row.occurred_at.isoformat().encode()),
        ("ce_sequence", str(row.position).encode()),
        ("ce_accountid", str(row.account_id).encode()),
        ("content-type", b"application/json"),
    ]
    if row.correlation_id:
        headers.append(("ce_correlationid", row.correlation_id.encode()))
    return row.subject.encode(), row.data.encode(), headers


class KafkaRelay:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], settings: KafkaSettings
    ) -> None:
        if settings.bootstrap_servers is None:
            raise ValueError("the relay needs kafka.bootstrap_servers")
        self._sessions = sessions
        self._settings = settings
        self._bootstrap = settings.bootstrap_servers
        self._producer: AIOKafkaProducer | None = None
        self._failures = 0
        self._resume_at = 0.0

    def topic(self, event_type: str) -> str:
        return f"{self._settings.topic_prefix}{family_of(event_type)}"

    async def close(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()

    async def run_once(self) -> int | None:
        """Publish one batch. None when backing off or another replica relays."""
        if time.monotonic() < self._resume_at:
            return None
        try:
            published = await self._publish_batch()
        except (KafkaError, OSError) as error:
            await self.close()
            self._failures += 1
            backoff = min(MAX_BACKOFF_SECONDS, 0.5 * 2 ** (self._failures - 1))
            self._resume_at = time.monotonic() + backoff
            log.warning(
                "events.relay.broker_unavailable",
                error=type(error).__name__,
                retry_in_seconds=backoff,
            )
            return None
        self._failures = 0
        return published

    async def _publish_batch(self) -> int | None:
        async with transaction(self._sessions) as session:
            if not await session.scalar(select(func.pg_try_advisory_xact_lock(_LOCK))):
                return None
            result = await session.execute(
                select(
                    OutboxRow.id,
                    # Never null here (the WHERE clause); coalesce types it so.
                    func.coalesce(OutboxRow.position, 0),
                    OutboxRow.event_id,
                    OutboxRow.type,
                    OutboxRow.subject,
                    OutboxRow.account_id,
                    OutboxRow.correlation_id,
                    OutboxRow.occurred_at,
                    cast(OutboxRow.data, Text),
                )
                .where(
                    OutboxRow.position.is_not(None),
                    OutboxRow.published_at.is_(None),
                )
                .order_by(OutboxRow.position)
                .limit(self._settings.batch)
            )
            rows = [
                RelayRow(
                    row_id,
                    position,
                    event_id,
                    event_type,
                    subject,
                    account_id,
                    correlation_id,
                    occurred_at,
                    data,
                )
                for (
                    row_id,
                    position,
                    event_id,
                    event_type,
                    subject,
                    account_id,
                    correlation_id,
                    occurred_at,
                    data,
                ) in result
            ]
            if not rows:
                return 0
            await self._send(rows)
            # Under the relay lock nothing else publishes, so "up to the last
            # position sent" names exactly the rows just sent.
            await session.execute(
                update(OutboxRow)
                .where(
                    OutboxRow.position.is_not(None),
                    OutboxRow.position <= rows[-1].position,
                    OutboxRow.published_at.is_(None),
                )
                .values(published_at=func.now())
                .execution_options(synchronize_session=False)
            )
        log.info("events.relay.published", count=len(rows), last=rows[-1].position)
        return len(rows)

    async def _send(self, rows: Sequence[RelayRow]) -> None:
        producer = await self._ensure_producer()
        acknowledgements = []
        for row in rows:
            key, value, headers = kafka_message(row)
            acknowledgements.append(
                await producer.send(
                    self.topic(row.type), value=value, key=key, headers=headers
                )
            )
        await asyncio.gather(*acknowledgements)

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            await self.ensure_topics()
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap,
                acks="all",
                linger_ms=self._settings.linger_ms,
                # The broker has no idempotent producer; ordering per key holds
                # with one request in flight per connection.
                enable_idempotence=False,
                max_request_size=4 << 20,
                client_id="portico-relay",
            )
            await producer.start()
            self._producer = producer
        return self._producer

    async def ensure_topics(self) -> None:
        families = EVENT_FAMILIES
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            missing = [
                NewTopic(f"{self._settings.topic_prefix}{family}", 3, 1)
                for family in families
                if f"{self._settings.topic_prefix}{family}" not in existing
            ]
            if missing:
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics(missing)
        finally:
            await admin.close()

    async def purge_published(self) -> int:
        """Remove published events older than the retention period."""
        retention = timedelta(hours=self._settings.retention_hours)
        async with transaction(self._sessions) as session:
            result = await session.execute(
                delete(OutboxRow).where(
                    OutboxRow.published_at.is_not(None),
                    OutboxRow.published_at < func.now() - retention,
                )
            )
        return int(result.rowcount)  # type: ignore[attr-defined]
