"""W1: signed webhook deliveries per second, attempts recorded, vs raw POSTs.

**Portico** is the worker's dispatcher (``WebhookDispatcher.run_once`` in a
loop until nothing is due): it leases due deliveries from PostgreSQL, signs
each with ``standardwebhooks`` (``webhook-id``, ``webhook-timestamp``,
``webhook-signature``), POSTs the stored body, and records every attempt and
each delivery's new state. Before the clock starts, N pending deliveries of
~1 KB CloudEvent bodies to one endpoint are queued (untimed); the clock stops
when the dispatcher finds nothing left to lease. Its batch and the endpoint's
concurrency cap are both the concurrency under test, so at most that many
requests are in flight.

**Baseline**: the same N POSTs, of the same body with fixed headers, through
the same client (a ``WebhookTransport`` like the dispatcher's: httpcore pool,
address check, total deadline, bounded read), by as many closed-loop
workers as the concurrency under test. No database, no signing.

The receiver is ``bench.stub`` in its own process: ``200 {"ok":true}`` after
``--latency-ms`` on kept-alive HTTP/1.1. After a warm-up round of each side,
each block runs A B B A; each adjacent pair gives a ratio of deliveries per
second (only 2xx count). Between rounds the delivery tables are emptied
(untimed), so every round starts from the same table sizes.

Run from the repository root: ``.venv/bin/python -m bench.w1_webhooks``.
PostgreSQL is ``PORTICO_TEST_DATABASE_URL``'s server (a fresh database on
it) or, when unset, an embedded one in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from tests.support.database import test_database

from bench import _support as support
from domain.accounts.model import NewAccount
from gateway.accounts.service import open_account
from gateway.db.engine import create_engine, session_factory, transaction
from gateway.db.migrations import upgrade_to_head
from gateway.db.tables import WebhookDeliveryRow, WebhookEndpointRow
from gateway.settings import DatabaseSettings
from gateway.webhooks.dispatcher import WebhookDispatcher
from gateway.webhooks.messages import Message, queue_deliveries
from gateway.webhooks.schemas import WebhookEndpointCreate
from gateway.webhooks.service import WebhookEndpoints
from gateway.webhooks.settings import WebhookSettings
from gateway.webhooks.states import DeliveryOrigin, DeliveryStatus
from gateway.webhooks.transport import WebhookTransport

BENCHMARK = "W1"
TARGET, FLOOR = 0.60, 0.40
PORTICO, BASELINE = "portico", "raw-post"
EVENT_TYPE = "order.status_changed"


@dataclass(frozen=True)
class Plan:
    concurrency: list[int]
    deliveries: int
    blocks: int
    latency_ms: float
    body_bytes: int


@dataclass(frozen=True)
class Round:
    variant: str
    concurrency: int
    attempted: int
    delivered: int
    seconds: float
    driver_cpu: float
    stub_cpu: float | None

    @property
    def rate(self) -> float:
        return self.delivered / self.seconds if self.seconds > 0 else 0.0


def body_of(size: int, event_id: uuid.UUID, account_id: uuid.UUID) -> bytes:
    """A CloudEvent of about ``size`` bytes, shaped like an order event."""
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": str(event_id),
        "source": "/portico",
        "type": EVENT_TYPE,
        "subject": str(uuid.uuid4()),
        "time": "2026-12-03T19:00:00+00:00",
        "datacontenttype": "application/json",
        "sequence": "1",
        "data": {"status": "accepted", "total": {"amount": "10.50"}, "note": ""},
    }
    padding = max(size - len(orjson.dumps(event)), 0)
    event["data"]["note"] = "x" * padding
    return orjson.dumps(event)


class Bench:
    """The database, the endpoint, the dispatcher and the baseline client."""

    def __init__(
        self, engine: AsyncEngine, receiver_url: str, plan: Plan, concurrency: int
    ) -> None:
        self.engine = engine
        self.sessions: async_sessionmaker[AsyncSession] = session_factory(engine)
        self.url = receiver_url
        self.plan = plan
        self.concurrency = concurrency
        self.settings = WebhookSettings(
            allow_http=True,
            allowed_targets=["127.0.0.1"],
            dispatch_batch=concurrency,
            default_max_concurrency=100,
            max_connections=concurrency,
            timeout_seconds=10.0,
            lease_seconds=60.0,
        )
        self.dispatcher = WebhookDispatcher(self.sessions, self.settings)
        self.client = WebhookTransport(self.settings)
        self.endpoint: WebhookEndpointRow | None = None

    async def aclose(self) -> None:
        await self.dispatcher.aclose()
        await self.client.aclose()

    async def prepare(self) -> None:
        account = await open_account(
            self.sessions,
            NewAccount.create(name="W1 Dealer", timezone="UTC", currency="EUR"),
        )
        async with transaction(self.sessions) as session:
            self.endpoint, _ = await WebhookEndpoints(self.settings).create(
                session,
                account.id,
                WebhookEndpointCreate(url=f"{self.url}/hooks", event_types=[]),
            )

    async def queue(self, count: int) -> None:
        endpoint = self.endpoint
        assert endpoint is not None
        targets = []
        for _ in range(count):
            event_id = uuid.uuid4()
            message = Message(
                event_id=event_id,
                account_id=endpoint.account_id,
                type=EVENT_TYPE,
                subject=str(event_id),
                payload=body_of(self.plan.body_bytes, event_id, endpoint.account_id),
            )
            targets.append((message, endpoint))
        async with transaction(self.sessions) as session:
            await queue_deliveries(session, targets, DeliveryOrigin.EVENT)

    async def clear(self) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(
                text("TRUNCATE webhook_attempts, webhook_deliveries, webhook_messages")
            )

    async def delivered(self) -> int:
        async with self.sessions() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(WebhookDeliveryRow)
                .where(WebhookDeliveryRow.status == DeliveryStatus.DELIVERED.value)
            )
        return int(count or 0)


async def portico_round(bench: Bench, stub: support.Stub, count: int) -> Round:
    await bench.clear()
    await bench.queue(count)
    support.settle()
    meter = support.CpuMeter(stub)
    started = time.perf_counter()
    while await bench.dispatcher.run_once():
        pass
    seconds = time.perf_counter() - started
    driver, stub_cpu = meter.shares()
    delivered = await bench.delivered()
    return Round(
        PORTICO, bench.concurrency, count, delivered, seconds, driver, stub_cpu
    )


async def baseline_round(bench: Bench, stub: support.Stub, count: int) -> Round:
    body = body_of(bench.plan.body_bytes, uuid.uuid4(), uuid.uuid4())
    headers = [
        (b"content-type", b"application/json"),
        (b"webhook-id", str(uuid.uuid4()).encode()),
        (b"webhook-timestamp", str(int(time.time())).encode()),
        (b"webhook-signature", b"v1," + b"A" * 44),
    ]
    url = f"{bench.url}/hooks"
    remaining = count
    delivered = 0

    async def post_until_done() -> None:
        nonlocal remaining, delivered
        while remaining > 0:
            remaining -= 1
            result = await bench.client.send(url, headers, body)
            delivered += result.delivered

    support.settle()
    meter = support.CpuMeter(stub)
    started = time.perf_counter()
    await asyncio.gather(*(post_until_done() for _ in range(bench.concurrency)))
    seconds = time.perf_counter() - started
    driver, stub_cpu = meter.shares()
    return Round(
        BASELINE, bench.concurrency, count, delivered, seconds, driver, stub_cpu
    )


async def measure(
    plan: Plan, stub: support.Stub, database_url: str
) -> tuple[list[Round], str]:
    engine = create_engine(DatabaseSettings(pool_size=20), database_url)
    rounds: list[Round] = []
    try:
        async with engine.connect() as connection:
            postgres = str(await connection.scalar(text("SHOW server_version")))
        for concurrency in plan.concurrency:
            bench = Bench(engine, stub.url(), plan, concurrency)
            try:
                await bench.prepare()
                warmup = max(plan.deliveries // 4, concurrency)
                await portico_round(bench, stub, warmup)
                await baseline_round(bench, stub, warmup)
                for _ in range(plan.blocks):
                    for run in (portico_round, baseline_round):
                        rounds.append(await run(bench, stub, plan.deliveries))
                    for run in (baseline_round, portico_round):
                        rounds.append(await run(bench, stub, plan.deliveries))
                    print(f"  concurrency {concurrency}: block done", flush=True)
            finally:
                await bench.aclose()
    finally:
        await engine.dispose()
    return rounds, postgres


def pair_ratios(rounds: list[Round], concurrency: int) -> list[float]:
    """Portico / baseline for each adjacent pair (A B, B A) of one concurrency."""
    mine = [r for r in rounds if r.concurrency == concurrency]
    ratios = []
    for first, second in zip(mine[0::2], mine[1::2], strict=True):
        portico = first if first.variant == PORTICO else second
        baseline = second if portico is first else first
        ratios.append(portico.rate / baseline.rate if baseline.rate else 0.0)
    return ratios


def report(
    plan: Plan,
    rounds: list[Round],
    environment: list[tuple[str, str]],
    quick: bool,
) -> str:
    when = support.now_utc()
    lines = [
        f"## {BENCHMARK} signed webhook deliveries, {when:%Y-%m-%d %H:%M} UTC",
        "",
    ]
    if quick:
        lines += ["**--quick: a smoke run, not a result.**", ""]
    lines += [
        f"`{support.command_line()}`",
        "",
        "- **portico**: `WebhookDispatcher.run_once` until nothing is due: lease "
        "(endpoint lock, `FOR NO KEY UPDATE SKIP LOCKED`), Standard Webhooks "
        "signature per attempt, POST of the stored body, attempts and delivery "
        "states written as results arrive.",
        "- **raw-post**: the same body POSTed through the same `WebhookTransport` "
        "(httpcore pool, address check, total deadline, bounded read) with fixed "
        "headers; no database, no signing.",
        f"- {plan.deliveries} deliveries per round of ~{plan.body_bytes} B bodies "
        f"to one endpoint; receiver `bench.stub` answering 200 after "
        f"{plan.latency_ms:g} ms; {plan.blocks} block(s) of A B B A per "
        "concurrency after a warm-up round of each.",
        "",
    ]
    rows: list[list[object]] = []
    detail: list[list[object]] = []
    for concurrency in plan.concurrency:
        ratios = pair_ratios(rounds, concurrency)
        spread = support.Spread.of(ratios)
        for variant in (BASELINE, PORTICO):
            mine = [
                r
                for r in rounds
                if r.concurrency == concurrency and r.variant == variant
            ]
            rate = support.Spread.of([r.rate for r in mine]).median
            cpu = support.Spread.of([r.driver_cpu for r in mine]).median
            stub_cpu = [r.stub_cpu for r in mine if r.stub_cpu is not None]
            failed = sum(r.attempted - r.delivered for r in mine)
            cpu_per = (
                sum(r.driver_cpu * r.seconds for r in mine)
                / max(sum(r.delivered for r in mine), 1)
                * 1e6
            )
            if variant == BASELINE:
                ratio_cells: list[object] = ["1 (baseline)", "", "", "", ""]
            else:
                ratio_cells = [
                    f"**{spread.median:.3f}x**",
                    f"{spread.low:.3f}x",
                    f"{spread.high:.3f}x",
                    f">= {TARGET:.2f}x ({FLOOR:.2f}x)",
                    support.verdict(
                        spread.median, TARGET, FLOOR, higher_is_better=True
                    ),
                ]
            rows.append(
                [
                    concurrency,
                    variant,
                    f"{rate:,.0f}",
                    *ratio_cells,
                    f"{cpu_per:,.0f}",
                    f"{cpu:.0%}",
                    f"{support.Spread.of(stub_cpu).median:.0%}" if stub_cpu else "n/a",
                    failed,
                ]
            )
        detail.append([concurrency, ", ".join(f"{ratio:.3f}" for ratio in ratios)])
    lines.append(
        support.table(
            [
                "in flight",
                "side",
                "deliveries/s (median of rounds)",
                "ratio vs raw-post: median of pairs",
                "min",
                "max",
                "target (floor)",
                "verdict",
                "driver CPU µs/delivery",
                "driver CPU",
                "stub CPU",
                "not 2xx",
            ],
            rows,
        )
    )
    lines += [
        "",
        "Ratios are Portico / baseline deliveries per second (higher is better), "
        'one per adjacent pair of rounds. "driver CPU" is the share of its CPU the '
        "single-threaded benchmark process used; PostgreSQL's own CPU is not in it.",
        "",
        support.table(["in flight", "pair ratios, in order"], detail),
        "",
        support.render_environment(environment),
    ]
    return "\n".join(lines)


def environment(
    pinning: support.Pinning,
    stub: support.Stub,
    loop: support.LoopName,
    logging_note: str,
    load_at_start: str,
    postgres: str,
    embedded: bool,
) -> list[tuple[str, str]]:
    own = os.getpid()
    where = (
        f"driver pid {own} (dispatcher, baseline and load driver in one process) "
        f"on CPU {support.affinity_of(own)}; receiver stub pid {stub.pid} on CPU "
        f"{support.affinity_of(stub.pid)}; PostgreSQL not pinned"
    )
    return [
        support.python_row(),
        support.library_row(
            "httpcore", "sqlalchemy", "asyncpg", "standardwebhooks", "structlog"
        ),
        support.portico_row(),
        (
            "PostgreSQL",
            f"{postgres} ({'embedded, temporary' if embedded else 'server'})",
        ),
        ("event loop", f"{support.loop_description(loop)} in both processes"),
        support.cpus_row(),
        ("pinning", f"{pinning.note}: {where}"),
        ("logging", logging_note),
        (
            "load average (1/5/15 min)",
            f"{load_at_start} at start, {support.load_average()} at end",
        ),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.w1_webhooks",
        description="W1: signed webhook deliveries per second, attempts recorded, "
        "vs raw POSTs with the same client and concurrency.",
    )
    support.add_common_arguments(parser)
    parser.add_argument(
        "--concurrency",
        type=int,
        nargs="+",
        default=[20, 50],
        help="requests in flight (dispatch batch and endpoint cap; baseline workers)",
    )
    parser.add_argument(
        "--deliveries", type=int, default=2000, help="deliveries per measured round"
    )
    parser.add_argument(
        "--blocks", type=int, default=3, help="blocks of A B B A per concurrency"
    )
    parser.add_argument(
        "--latency-ms", type=float, default=5.0, help="the receiver's answer time"
    )
    parser.add_argument(
        "--body-bytes", type=int, default=1024, help="size of each webhook body"
    )
    args = parser.parse_args(argv)
    plan = Plan(
        concurrency=[20] if args.quick else args.concurrency,
        deliveries=100 if args.quick else args.deliveries,
        blocks=1 if args.quick else args.blocks,
        latency_ms=args.latency_ms,
        body_bytes=args.body_bytes,
    )
    pinning = support.Pinning.choose(args)
    logging_note = support.configure_logging(args.logging).replace(
        "connector.call line per call", "webhook.delivery line per delivery"
    )
    load_at_start = support.load_average()
    embedded = not os.environ.get("PORTICO_TEST_DATABASE_URL")
    with (
        tempfile.TemporaryDirectory(prefix="portico-w1-") as tmp,
        test_database(Path(tmp)) as url,
        support.stub_backend([plan.latency_ms], pinning, args.loop) as stub,
    ):
        upgrade_to_head(url)
        pinning.pin_driver()
        rounds, postgres = support.run(lambda: measure(plan, stub, url), args.loop)
        env = environment(
            pinning, stub, args.loop, logging_note, load_at_start, postgres, embedded
        )
    text_report = report(plan, rounds, env, args.quick)
    print()
    print(text_report)
    if args.write_results:
        path = support.write_results(BENCHMARK, text_report, support.now_utc())
        print(f"appended to {path.relative_to(support.REPO_ROOT)}")


if __name__ == "__main__":
    main()
