"""The relay to a real Kafka-protocol broker: CloudEvents in binary mode, in
commit order, at least once, through broker outages (C15)."""

import uuid
from datetime import timedelta

from cloudevents.core.bindings.kafka import KafkaMessage, from_binary
from cloudevents.core.formats.json import JSONFormat
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.db.engine import transaction
from gateway.db.tables import OutboxRow
from gateway.events.outbox import record_event
from gateway.events.relay import KafkaRelay
from gateway.events.sequencer import Sequencer
from gateway.peers.kafka import KafkaPeer
from gateway.settings import KafkaSettings
from tests.peers.kafka_fixtures import read_all
from tests.support.factories import Caller


def relay_for(
    sessions: async_sessionmaker[AsyncSession], bootstrap: str, prefix: str
) -> KafkaRelay:
    return KafkaRelay(
        sessions,
        KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=prefix, linger_ms=1),
    )


async def emit(session: AsyncSession, caller: Caller, subject: str, n: int) -> None:
    await record_event(
        session,
        event_type="order.status_changed",
        account_id=caller.account.id,
        subject=subject,
        data={"n": n, "name": "Счёт-фактура №12", "total": {"amount": "10.50"}},
    )


async def relay_everything(sequencer: Sequencer, relay: KafkaRelay) -> None:
    await sequencer.run_until_idle()
    while await relay.run_once():
        pass


def unique_prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}."


async def test_events_reach_a_plain_consumer_as_valid_cloudevents(
    kafka_peer: KafkaPeer, caller: Caller, sessions: async_sessionmaker[AsyncSession]
) -> None:
    prefix = unique_prefix()
    relay = relay_for(sessions, kafka_peer.bootstrap_servers, prefix)
    async with transaction(sessions) as session:
        await emit(session, caller, "order-1", 1)

    try:
        await relay_everything(Sequencer(sessions), relay)
    finally:
        await relay.close()
    records = await read_all(
        kafka_peer.bootstrap_servers, f"{prefix}orders", timeout=10
    )

    [record] = records
    message = KafkaMessage(
        headers=dict(record.headers), key=record.key, value=record.value
    )
    event = from_binary(message, JSONFormat())
    assert record.key == b"order-1"
    assert event.get_type() == "order.status_changed"
    assert event.get_subject() == "order-1"
    assert event.get_data() == {
        "n": 1,
        "name": "Счёт-фактура №12",
        "total": {"amount": "10.50"},
    }
    assert dict(record.headers)["ce_specversion"] == b"1.0"


async def test_c15_a_late_commit_is_still_published_in_commit_order(
    kafka_peer: KafkaPeer, caller: Caller, sessions: async_sessionmaker[AsyncSession]
) -> None:
    prefix = unique_prefix()
    relay = relay_for(sessions, kafka_peer.bootstrap_servers, prefix)
    sequencer = Sequencer(sessions)
    early = sessions()
    await early.begin()
    await emit(early, caller, "order-a", 101)  # row 101: written first, open
    await early.flush()
    async with transaction(sessions) as late:
        await emit(late, caller, "order-b", 102)  # row 102: commits first

    try:
        await relay_everything(sequencer, relay)
        await early.commit()
        await early.close()
        await relay_everything(sequencer, relay)
    finally:
        await relay.close()
    records = await read_all(
        kafka_peer.bootstrap_servers, f"{prefix}orders", timeout=10
    )

    published = sorted(records, key=lambda r: r.timestamp)
    assert [record.key for record in published] == [b"order-b", b"order-a"]
    async with sessions() as session:
        unpublished = await session.scalar(
            select(func.count()).where(OutboxRow.published_at.is_(None))
        )
    assert unpublished == 0


async def test_one_entitys_events_stay_in_order_in_their_partition(
    kafka_peer: KafkaPeer, caller: Caller, sessions: async_sessionmaker[AsyncSession]
) -> None:
    prefix = unique_prefix()
    relay = relay_for(sessions, kafka_peer.bootstrap_servers, prefix)
    for n in range(20):
        async with transaction(sessions) as session:
            await emit(session, caller, f"order-{n % 3}", n)

    try:
        await relay_everything(Sequencer(sessions), relay)
    finally:
        await relay.close()
    records = await read_all(
        kafka_peer.bootstrap_servers, f"{prefix}orders", timeout=10
    )

    assert len(records) == 20, [r.key for r in records]
    for subject in (b"order-0", b"order-1", b"order-2"):
        mine = [r for r in records if r.key == subject]
        assert len({r.partition for r in mine}) == 1
        numbers = [int(dict(r.headers)["ce_sequence"]) for r in mine]
        assert numbers == sorted(numbers)


async def test_broker_down_loses_nothing_and_catches_up_in_order(
    caller: Caller, sessions: async_sessionmaker[AsyncSession]
) -> None:
    prefix = unique_prefix()
    broker = KafkaPeer(topics={f"{prefix}orders": 3, f"{prefix}accounts": 3})
    broker.start()
    try:
        relay = relay_for(sessions, broker.bootstrap_servers, prefix)
        sequencer = Sequencer(sessions)
        await sequencer.run_until_idle()
        broker.stop()
        for n in range(5):
            async with transaction(sessions) as session:
                await emit(session, caller, "order-x", n)
        await sequencer.run_until_idle()
        while_down = await relay.run_once()
        backing_off = await relay.run_once()
        broker.start()
        relay._resume_at = 0.0
        try:
            while await relay.run_once():
                pass
        finally:
            await relay.close()
        records = await read_all(
            broker.bootstrap_servers, f"{prefix}orders", timeout=10
        )
    finally:
        broker.stop()

    assert while_down is None
    assert backing_off is None
    numbers = [
        int(r.value.decode().split('"n":')[1].split(",")[0])
        for r in sorted(records, key=lambda r: r.offset)
        if r.key == b"order-x"
    ]
    assert numbers == [0, 1, 2, 3, 4]


async def test_a_relay_killed_mid_batch_republishes_at_most_that_batch(
    kafka_peer: KafkaPeer, caller: Caller, sessions: async_sessionmaker[AsyncSession]
) -> None:
    prefix = unique_prefix()
    relay = relay_for(sessions, kafka_peer.bootstrap_servers, prefix)
    async with transaction(sessions) as session:
        for n in range(4):
            await emit(session, caller, f"order-{n}", n)
    sequencer = Sequencer(sessions)
    try:
        await relay_everything(sequencer, relay)
        # The relay "died" after the broker acknowledged the last batch but
        # before it marked it published: the rows are unpublished again.
        async with transaction(sessions) as session:
            await session.execute(update(OutboxRow).values(published_at=None))
        await relay_everything(sequencer, relay)
    finally:
        await relay.close()
    records = await read_all(
        kafka_peer.bootstrap_servers, f"{prefix}orders", timeout=10
    )

    ids = [dict(r.headers)["ce_id"] for r in records]
    assert len(ids) == 8
    assert len(set(ids)) == 4, "duplicates carry the same event id"


async def test_published_events_are_removed_after_their_retention(
    kafka_peer: KafkaPeer, caller: Caller, sessions: async_sessionmaker[AsyncSession]
) -> None:
    relay = KafkaRelay(
        sessions,
        KafkaSettings(
            bootstrap_servers=kafka_peer.bootstrap_servers,
            topic_prefix=unique_prefix(),
            retention_hours=1,
        ),
    )
    async with transaction(sessions) as session:
        for n in range(3):
            await emit(session, caller, f"order-{n}", n)
    try:
        await relay_everything(Sequencer(sessions), relay)
    finally:
        await relay.close()
    async with transaction(sessions) as session:
        await session.execute(
            update(OutboxRow)
            .where(OutboxRow.subject == "order-0")
            .values(published_at=func.now() - timedelta(hours=2))
        )
        await emit(session, caller, "order-unpublished", 9)

    removed = await relay.purge_published()

    async with sessions() as session:
        left = set(await session.scalars(select(OutboxRow.subject)))
    assert removed == 1
    assert "order-0" not in left
    assert {"order-1", "order-2", "order-unpublished"} <= left
