"""F1: latency of a read that fans out to four backends, Portico vs a bare gather.

Portico's side issues the four backend GETs in parallel, each through its own
``ConnectorCalls`` (one per connector, as four configured connectors would:
total deadline, stamina retries, purgatory breaker, semaphore, a structlog
line per call) and inside ``translate_http_errors``, as connectors wrap their
HTTP calls. The baseline is ``asyncio.gather`` of the same four GETs on the
same four ``httpx.AsyncClient`` pools, without ``ConnectorCalls``.

The stub backend is a separate process on the other CPU with one port per
backend, answering after 40, 25, 15 and 60 ms. The load is open-loop: reads
start at fixed intended times (``--rate`` per second) whether or not earlier
ones finished, and each read's latency runs from its intended start to the
end of its slowest part, so a stalled event loop counts against the side that
stalled it.

Rounds alternate A B B A (A = Portico, B = baseline) after a warm-up round of
each; each adjacent A/B pair gives a ratio of p50 and of p99, and the table
shows the median of those ratios with their min and max.

Run from the repository root: ``.venv/bin/python -m bench.f1_fanout``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from bench import _support as support
from connectors.runtime.calls import ConnectorCalls
from connectors.runtime.config import ConnectorConfig
from connectors.runtime.errors import translate_http_errors

BENCHMARK = "F1"
LATENCIES_MS = (40.0, 25.0, 15.0, 60.0)
P50_TARGET, P50_FLOOR = 1.05, 1.10
P99_TARGET, P99_FLOOR = 1.15, 1.30
OPERATION = "read"

Read = Callable[[], Awaitable[object]]


@dataclass(frozen=True)
class Round:
    side: str
    latencies_ms: list[float]
    errors: int
    late_starts: int
    driver_cpu: float
    stub_cpu: float | None

    @property
    def p50(self) -> float:
        return support.percentile(self.latencies_ms, 50)

    @property
    def p99(self) -> float:
        return support.percentile(self.latencies_ms, 99)


@dataclass(frozen=True)
class Settings:
    rate: float
    reads_per_round: int
    warmup_reads: int
    pairs: int


def _settings(args: argparse.Namespace) -> Settings:
    if args.quick:
        return Settings(rate=args.rate, reads_per_round=25, warmup_reads=10, pairs=2)
    return Settings(
        rate=args.rate,
        reads_per_round=args.reads_per_round,
        warmup_reads=args.warmup_reads,
        pairs=args.pairs,
    )


class Backends:
    """Four backends: an httpx pool each, and a ``ConnectorCalls`` each."""

    def __init__(self, stub: support.Stub) -> None:
        self.clients: list[httpx.AsyncClient] = []
        self.calls: list[ConnectorCalls] = []
        for index in range(len(LATENCIES_MS)):
            config = ConnectorConfig.model_validate({"base_url": stub.url(index)})
            # Built like a connector builds its pool (see TrytonConnector).
            self.clients.append(
                httpx.AsyncClient(
                    base_url=str(config.base_url).rstrip("/"),
                    timeout=httpx.Timeout(
                        config.deadline_seconds, connect=config.connect_timeout_seconds
                    ),
                    limits=httpx.Limits(
                        max_connections=config.max_concurrency,
                        max_keepalive_connections=config.max_concurrency,
                    ),
                )
            )
            self.calls.append(ConnectorCalls(f"backend{index}", config))

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()

    async def baseline_read(self) -> object:
        return await asyncio.gather(*(_get(client) for client in self.clients))

    async def portico_read(self) -> object:
        return await asyncio.gather(
            *(
                calls.run(
                    OPERATION, _connector_get(calls.system, client), idempotent=True
                )
                for calls, client in zip(self.calls, self.clients, strict=True)
            )
        )


async def _get(client: httpx.AsyncClient) -> bytes:
    response = await client.get("/")
    response.raise_for_status()
    return response.content


def _connector_get(
    system: str, client: httpx.AsyncClient
) -> Callable[[], Awaitable[bytes]]:
    async def call() -> bytes:
        with translate_http_errors(system, OPERATION):
            return await _get(client)

    return call


async def open_loop(
    side: str, read: Read, count: int, rate: float, stub: support.Stub
) -> Round:
    """Start ``count`` reads at ``rate`` per second; time each from its intended
    start."""
    interval = 1 / rate
    latencies: list[float] = []
    errors = 0
    late_starts = 0

    async def one(intended: float) -> None:
        nonlocal errors
        try:
            await read()
        except Exception:
            errors += 1
            return
        latencies.append((time.perf_counter() - intended) * 1000)

    support.settle()
    meter = support.CpuMeter(stub)
    tasks: list[asyncio.Task[None]] = []
    start = time.perf_counter() + 0.01
    for index in range(count):
        intended = start + index * interval
        delay = intended - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.001:
            late_starts += 1
        tasks.append(asyncio.create_task(one(intended)))
    await asyncio.gather(*tasks)
    driver_cpu, stub_cpu = meter.shares()
    return Round(side, latencies, errors, late_starts, driver_cpu, stub_cpu)


async def measure(settings: Settings, stub: support.Stub) -> list[tuple[Round, Round]]:
    """Warm up, then return (Portico, baseline) round pairs in A B B A order."""
    backends = Backends(stub)
    sides: dict[str, Read] = {
        "portico": backends.portico_read,
        "baseline": backends.baseline_read,
    }
    try:
        for side, read in sides.items():
            await open_loop(side, read, settings.warmup_reads, settings.rate, stub)
        pairs: list[tuple[Round, Round]] = []
        for index in range(settings.pairs):
            order = (
                ["portico", "baseline"] if index % 2 == 0 else ["baseline", "portico"]
            )
            done = {
                side: await open_loop(
                    side, sides[side], settings.reads_per_round, settings.rate, stub
                )
                for side in order
            }
            pairs.append((done["portico"], done["baseline"]))
            print(
                f"  pair {index + 1}/{settings.pairs} ({' '.join(order)}): "
                f"p50 {done['portico'].p50:.2f} / {done['baseline'].p50:.2f} ms, "
                f"p99 {done['portico'].p99:.2f} / {done['baseline'].p99:.2f} ms",
                flush=True,
            )
        return pairs
    finally:
        await backends.aclose()


def _ms(value: float) -> str:
    return f"{value:.2f}"


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def report(
    settings: Settings,
    pairs: list[tuple[Round, Round]],
    environment: list[tuple[str, str]],
    quick: bool,
) -> str:
    when = support.now_utc()
    portico_all = [ms for portico, _ in pairs for ms in portico.latencies_ms]
    baseline_all = [ms for _, baseline in pairs for ms in baseline.latencies_ms]
    p50_ratios = support.Spread.of([a.p50 / b.p50 for a, b in pairs])
    p99_ratios = support.Spread.of([a.p99 / b.p99 for a, b in pairs])
    summary = support.table(
        [
            "metric",
            "Portico ms (all rounds)",
            "baseline ms (all rounds)",
            "ratio: median of pairs",
            "min",
            "max",
            "target (floor)",
            "verdict",
        ],
        [
            (
                f"p{q}",
                _ms(support.percentile(portico_all, q)),
                _ms(support.percentile(baseline_all, q)),
                f"**{spread.median:.3f}x**",
                f"{spread.low:.3f}x",
                f"{spread.high:.3f}x",
                f"<= {target:.2f}x ({floor:.2f}x)",
                support.verdict(spread.median, target, floor, higher_is_better=False),
            )
            for q, spread, target, floor in (
                (50, p50_ratios, P50_TARGET, P50_FLOOR),
                (99, p99_ratios, P99_TARGET, P99_FLOOR),
            )
        ],
    )
    detail = support.table(
        [
            "pair",
            "order",
            "p50 A / B ms",
            "p50 ratio",
            "p99 A / B ms",
            "p99 ratio",
            "errors A / B",
            "late starts A / B",
            "driver CPU A / B",
            "stub CPU A / B",
        ],
        [
            (
                index + 1,
                "A B" if index % 2 == 0 else "B A",
                f"{_ms(a.p50)} / {_ms(b.p50)}",
                f"{a.p50 / b.p50:.3f}",
                f"{_ms(a.p99)} / {_ms(b.p99)}",
                f"{a.p99 / b.p99:.3f}",
                f"{a.errors} / {b.errors}",
                f"{a.late_starts} / {b.late_starts}",
                f"{_share(a.driver_cpu)} / {_share(b.driver_cpu)}",
                f"{_share(a.stub_cpu)} / {_share(b.stub_cpu)}",
            )
            for index, (a, b) in enumerate(pairs)
        ],
    )
    latencies = "/".join(f"{latency:g}" for latency in LATENCIES_MS)
    errors = sum(a.errors + b.errors for a, b in pairs)
    warnings = "".join(
        [
            "\n**--quick run: a smoke test, not a result.**\n" if quick else "",
            f"\n**{errors} reads failed: the figures are not valid.**\n"
            if errors
            else "",
        ]
    )
    return f"""## F1 fan-out read latency, {when:%Y-%m-%d %H:%M} UTC
{warnings}
`{support.command_line()}`

- **A, Portico**: 4 parallel GETs, each through its own `ConnectorCalls`
  (default `ConnectorConfig`: 5 s deadline, 3 attempts, breaker, 20 slots)
  inside `translate_http_errors`, on an `httpx.AsyncClient` per backend.
- **B, baseline**: `asyncio.gather` of the same 4 GETs on the same clients.
- Stub backends answering after {latencies} ms; open loop at
  {settings.rate:g} reads/s, latency from each read's intended start.
- {settings.pairs} pairs of {settings.reads_per_round} reads per round,
  A B B A order, after a warm-up round of {settings.warmup_reads} reads each.

{summary}

Ratios are Portico / baseline per adjacent pair of rounds (lower is better);
"all rounds" pools every read of that side.

{detail}

{support.render_environment(environment)}
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.f1_fanout",
        description="F1: fan-out read latency, Portico vs a bare asyncio.gather.",
    )
    support.add_common_arguments(parser)
    parser.add_argument(
        "--rate", type=float, default=25.0, help="reads started per second"
    )
    parser.add_argument(
        "--reads-per-round", type=int, default=200, help="reads in a measured round"
    )
    parser.add_argument(
        "--warmup-reads", type=int, default=60, help="reads in each warm-up round"
    )
    parser.add_argument(
        "--pairs", type=int, default=8, help="measured A/B pairs of rounds"
    )
    args = parser.parse_args(argv)
    settings = _settings(args)
    pinning = support.Pinning.choose(args)
    logging_note = support.configure_logging(args.logging)
    load_at_start = support.load_average()
    with support.stub_backend(LATENCIES_MS, pinning, args.loop) as stub:
        pinning.pin_driver()
        print(f"F1: stub pid {stub.pid} on ports {stub.ports}", flush=True)
        pairs = support.run(lambda: measure(settings, stub), args.loop)
        environment = support.environment_rows(
            pinning, stub, args.loop, logging_note, load_at_start
        )
    text = report(settings, pairs, environment, args.quick)
    print()
    print(text)
    if args.write_results:
        path = support.write_results(BENCHMARK, text, support.now_utc())
        print(f"appended to {path.relative_to(support.REPO_ROOT)}")


if __name__ == "__main__":
    main()
