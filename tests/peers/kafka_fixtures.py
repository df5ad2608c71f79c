"""Fixtures and helpers for the real Kafka-protocol peer (Tansu, in memory).

Import the fixture into a ``conftest.py`` (``from tests.peers.kafka_fixtures
import kafka_peer``). However many packages import it, one broker serves the
whole test session: the fixture keeps a process-wide instance, started by its
first user and stopped when its last user is torn down.

Tests share that broker, so each should use topics of its own (see
:func:`unique_topic`) and must not stop it: a test that needs the broker to
go down starts a :class:`~gateway.peers.kafka.KafkaPeer` of its own, which
takes well under a second.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import ConsumerRecord

from gateway.peers.kafka import KafkaPeer

__all__ = ["create_topic", "kafka_peer", "read_all", "unique_topic"]


class _SharedPeer:
    """One started broker, counted by the fixture definitions using it."""

    peer: KafkaPeer | None = None
    users = 0


@pytest.fixture(scope="session")
def kafka_peer() -> Iterator[KafkaPeer]:
    """A running single-node Kafka-protocol broker, empty at first.

    Shared by the session: use topics of your own and do not stop it.
    """
    peer = _SharedPeer.peer
    if peer is None:
        peer = KafkaPeer()
        peer.start()
        _SharedPeer.peer = peer
    _SharedPeer.users += 1
    try:
        yield peer
    finally:
        _SharedPeer.users -= 1
        if _SharedPeer.users == 0:
            _SharedPeer.peer = None
            peer.stop()


def unique_topic(prefix: str = "test") -> str:
    """A topic name no other test uses: ``{prefix}-{random hex}``."""
    return f"{prefix}-{secrets.token_hex(6)}"


async def create_topic(bootstrap: str, topic: str, *, partitions: int) -> None:
    """Create ``topic`` with ``partitions`` partitions (replication 1).

    Create topics before producing to them: the broker creates unknown
    topics on first use with its own default partition count.

    Raises:
        RuntimeError: the broker refused, for example because the topic
            exists already.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        response = await admin.create_topics(
            [NewTopic(topic, num_partitions=partitions, replication_factor=1)]
        )
    finally:
        await admin.close()
    for name, error_code, message in response.topic_errors:
        if error_code != 0:
            raise RuntimeError(
                f"could not create topic {name!r}: error {error_code}: {message}"
            )


async def read_all(
    bootstrap: str,
    topic: str,
    *,
    timeout: float,  # noqa: ASYNC109 - a deadline for the whole read
    quiet: float = 0.5,
) -> list[ConsumerRecord]:
    """Read every record of ``topic`` from the beginning until it goes quiet.

    Fetches with a consumer ``assign()``-ed to all partitions (no consumer
    group, no commits) until no record arrives for ``quiet`` seconds. It does
    not trust end offsets: the broker reports the end of a partition as the
    last batch's base offset plus one, which stops short of a batch of many
    records. A topic that does not exist has no records.

    Returns:
        The records ordered by partition, then offset; so the records of one
        key (which all go to one partition) are in the order produced.

    Raises:
        TimeoutError: the topic kept producing records past ``timeout``.
    """
    deadline = time.monotonic() + timeout
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        # topics() fetches metadata for all topics; a metadata request naming
        # the topic would create it.
        if topic not in await consumer.topics():
            return []
        partitions = sorted(consumer.partitions_for_topic(topic) or ())
        assigned = [TopicPartition(topic, partition) for partition in partitions]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        records: dict[TopicPartition, list[ConsumerRecord]] = {
            tp: [] for tp in assigned
        }
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"read_all({topic!r}) still reading after {timeout} s"
                )
            batches = await consumer.getmany(*assigned, timeout_ms=int(quiet * 1000))
            if not any(batches.values()):
                break
            for tp, batch in batches.items():
                records[tp].extend(batch)
    finally:
        await consumer.stop()
    return [record for tp in assigned for record in records[tp]]
