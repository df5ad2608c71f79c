"""H1: backend calls per second through the connector HTTP client vs raw aiohttp.

Three clients make the same GETs to the same stub backend (10 ms latency, a
separate process on the other CPU), closed-loop at 20, 50 and 100 calls in
flight:

- ``aiohttp`` (the baseline): a raw ``aiohttp.ClientSession`` with a
  ``TCPConnector`` of as many connections as calls in flight.
- ``portico`` (gated): what ships. ``ConnectorCalls.run`` around a GET, inside
  ``translate_http_errors``, on the client ``build_http_client`` returns, the
  builder every connector uses.

``--variants`` can add diagnostics, not gated:

- ``portico-httpx``: the same call policy on an ``httpx.AsyncClient`` with
  httpx's own transport (httpcore's pool), the transport connectors used
  before ``httpx_aiohttp.AiohttpTransport``.
- ``bare-portico``, ``bare-httpx``: those clients without ``ConnectorCalls``
  and ``translate_http_errors``, to tell the client's cost from the call
  policy's.

Every pool holds as many connections as there are calls in flight, and keeps
them 60 s, so rounds measure warm connections only. A failed call (deadline,
open circuit) counts for nothing: calls/s is successful calls per second, and
the errors are listed by kind.

For each concurrency, after a warm-up round of each client, each block runs
the baseline, the variants, the variants in reverse, and the baseline again
(the variants rotate from block to block): each variant's round is paired
with the baseline round in the same half-block, A B / B A as the design note
asks. Each round makes a fixed number of calls; the table shows calls/s
(median of rounds) and the median, min and max of the pair ratios.

Run from the repository root: ``.venv/bin/python -m bench.h1_http_client``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import aiohttp
import httpx

from bench import _support as support
from connectors.runtime.calls import ConnectorCalls
from connectors.runtime.config import ConnectorConfig
from connectors.runtime.errors import translate_http_errors
from connectors.runtime.http import build_http_client

BENCHMARK = "H1"
LATENCY_MS = 10.0
TARGET, FLOOR = 0.80, 0.60
KEEPALIVE_SECONDS = 60.0
OPERATION = "get"

BASELINE = "aiohttp"
#: What ships: ConnectorCalls on the client connectors build.
PORTICO = "portico"
HTTPX = "portico-httpx"
#: Diagnostics: the same clients without ConnectorCalls, to split the cost.
BARE_PORTICO = "bare-portico"
BARE_HTTPX = "bare-httpx"
PORTICO_VARIANTS = (PORTICO,)
DIAGNOSTIC_VARIANTS = (HTTPX, BARE_PORTICO, BARE_HTTPX)

Call = Callable[[], Awaitable[object]]


@dataclass(frozen=True)
class Round:
    variant: str
    calls: int
    seconds: float
    errors: Counter[str]
    driver_cpu: float
    stub_cpu: float | None

    @property
    def per_second(self) -> float:
        """Calls that succeeded, per second: failed calls count for nothing."""
        return (self.calls - self.errors.total()) / self.seconds

    @property
    def cpu_us_per_call(self) -> float:
        return self.driver_cpu * self.seconds / self.calls * 1e6


@dataclass(frozen=True)
class Level:
    """Every measured round at one concurrency, and the pair ratios."""

    concurrency: int
    rounds: list[Round]
    ratios: dict[str, list[float]]


@dataclass(frozen=True)
class Settings:
    concurrency: list[int]
    calls_per_round: int
    warmup_calls: int
    blocks: int
    variants: list[str]


def _settings(args: argparse.Namespace) -> Settings:
    if args.quick:
        return Settings(
            concurrency=[20],
            calls_per_round=100,
            warmup_calls=40,
            blocks=1,
            variants=args.variants,
        )
    return Settings(
        concurrency=args.concurrency,
        calls_per_round=args.calls_per_round,
        warmup_calls=args.warmup_calls,
        blocks=args.blocks,
        variants=args.variants,
    )


def _connector_config(url: str, concurrency: int) -> ConnectorConfig:
    return ConnectorConfig.model_validate(
        {"base_url": url, "max_concurrency": concurrency}
    )


def _httpx_client(config: ConnectorConfig) -> httpx.AsyncClient:
    """``build_http_client``'s client on httpx's own transport."""
    return httpx.AsyncClient(
        base_url=str(config.base_url).rstrip("/"),
        timeout=httpx.Timeout(
            config.deadline_seconds, connect=config.connect_timeout_seconds
        ),
        limits=_limits(config),
        follow_redirects=False,
    )


def _limits(config: ConnectorConfig) -> httpx.Limits:
    return httpx.Limits(
        max_connections=config.max_concurrency,
        max_keepalive_connections=config.max_concurrency,
        keepalive_expiry=KEEPALIVE_SECONDS,
    )


def _bare_call(client: httpx.AsyncClient) -> Call:
    async def call() -> bytes:
        response = await client.get("/")
        response.raise_for_status()
        return response.content

    return call


def _portico_call(calls: ConnectorCalls, client: httpx.AsyncClient) -> Call:
    async def get() -> bytes:
        with translate_http_errors(calls.system, OPERATION):
            response = await client.get("/")
            response.raise_for_status()
            return response.content

    async def call() -> bytes:
        return await calls.run(OPERATION, get, idempotent=True)

    return call


def _aiohttp_call(session: aiohttp.ClientSession, url: str) -> Call:
    async def call() -> bytes:
        async with session.get(url) as response:
            response.raise_for_status()
            return await response.read()

    return call


class Clients:
    """The clients at one concurrency, each with a pool of that size."""

    def __init__(self, stub: support.Stub, concurrency: int) -> None:
        url = stub.url()
        config = _connector_config(url, concurrency)
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=concurrency, keepalive_timeout=KEEPALIVE_SECONDS
            ),
            timeout=aiohttp.ClientTimeout(total=config.deadline_seconds),
        )
        self._portico = build_http_client(config)
        self._httpx = _httpx_client(config)
        self.calls: dict[str, Call] = {
            BASELINE: _aiohttp_call(self._session, url + "/"),
            PORTICO: _portico_call(ConnectorCalls("stub", config), self._portico),
            BARE_PORTICO: _bare_call(self._portico),
            HTTPX: _portico_call(ConnectorCalls("stub", config), self._httpx),
            BARE_HTTPX: _bare_call(self._httpx),
        }

    async def aclose(self) -> None:
        await self._portico.aclose()
        await self._httpx.aclose()
        await self._session.close()


async def closed_loop(
    variant: str, call: Call, calls: int, concurrency: int, stub: support.Stub
) -> Round:
    """``concurrency`` workers make ``calls`` calls in all, back to back."""
    remaining = calls
    errors: Counter[str] = Counter()

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            try:
                await call()
            except Exception as error:
                errors[type(error).__name__] += 1

    support.settle()
    meter = support.CpuMeter(stub)
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    driver_cpu, stub_cpu = meter.shares()
    return Round(variant, calls, seconds, errors, driver_cpu, stub_cpu)


def block_order(index: int, variants: Sequence[str]) -> list[str]:
    """Baseline, the variants, the variants in reverse, baseline; the variants
    rotate from block to block so that each takes every place in turn."""
    shift = index % len(variants)
    turn = [*variants[shift:], *variants[:shift]]
    return [BASELINE, *turn, *reversed(turn), BASELINE]


async def measure_level(
    settings: Settings, stub: support.Stub, concurrency: int
) -> Level:
    clients = Clients(stub, concurrency)
    try:
        for variant in (BASELINE, *settings.variants):
            await closed_loop(
                variant,
                clients.calls[variant],
                max(settings.warmup_calls, concurrency),
                concurrency,
                stub,
            )
        rounds: list[Round] = []
        ratios: dict[str, list[float]] = {variant: [] for variant in settings.variants}
        half_size = len(settings.variants) + 1
        for index in range(settings.blocks):
            done = [
                await closed_loop(
                    variant,
                    clients.calls[variant],
                    settings.calls_per_round,
                    concurrency,
                    stub,
                )
                for variant in block_order(index, settings.variants)
            ]
            rounds += done
            for half in (done[:half_size], done[half_size:]):
                baseline = next(r for r in half if r.variant == BASELINE)
                for measured in half:
                    if measured.variant != BASELINE:
                        ratios[measured.variant].append(
                            measured.per_second / baseline.per_second
                        )
            print(
                f"  c={concurrency} block {index + 1}/{settings.blocks}: "
                + ", ".join(f"{r.variant} {r.per_second:.0f}/s" for r in done),
                flush=True,
            )
        return Level(concurrency, rounds, ratios)
    finally:
        await clients.aclose()


async def measure(settings: Settings, stub: support.Stub) -> list[Level]:
    return [
        await measure_level(settings, stub, concurrency)
        for concurrency in settings.concurrency
    ]


def _share(values: Sequence[float | None]) -> str:
    known = [value for value in values if value is not None]
    if not known:
        return "n/a"
    return f"{support.Spread.of(known).median:.0%}"


def _errors(errors: Counter[str], calls: int) -> str:
    if not errors:
        return "0"
    kinds = ", ".join(f"{name} {count}" for name, count in errors.most_common())
    return f"{errors.total()} of {calls} ({kinds})"


def _summary_rows(level: Level, variants: Sequence[str]) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for variant in (BASELINE, *variants):
        mine = [r for r in level.rounds if r.variant == variant]
        rate = support.Spread.of([r.per_second for r in mine]).median
        cpu = support.Spread.of([r.cpu_us_per_call for r in mine]).median
        errors = sum((r.errors for r in mine), Counter[str]())
        if variant == BASELINE:
            ratio_cells: tuple[object, ...] = ("1 (baseline)", "", "", "", "")
        else:
            spread = support.Spread.of(level.ratios[variant])
            gated = variant in PORTICO_VARIANTS
            ratio_cells = (
                f"**{spread.median:.3f}x**" if gated else f"{spread.median:.3f}x",
                f"{spread.low:.3f}x",
                f"{spread.high:.3f}x",
                f">= {TARGET:.2f}x ({FLOOR:.2f}x)" if gated else "",
                support.verdict(spread.median, TARGET, FLOOR, higher_is_better=True)
                if gated
                else "diagnostic, not gated",
            )
        rows.append(
            (
                level.concurrency,
                variant,
                f"{rate:,.0f}",
                *ratio_cells,
                f"{cpu:,.0f}",
                _share([r.driver_cpu for r in mine]),
                _share([r.stub_cpu for r in mine]),
                _errors(errors, sum(r.calls for r in mine)),
            )
        )
    return rows


def report(
    settings: Settings,
    levels: list[Level],
    environment: list[tuple[str, str]],
    quick: bool,
) -> str:
    when = support.now_utc()
    summary = support.table(
        [
            "in flight",
            "client",
            "calls/s (median of rounds)",
            "ratio vs aiohttp: median of pairs",
            "min",
            "max",
            "target (floor)",
            "verdict",
            "driver CPU µs/call",
            "driver CPU",
            "stub CPU",
            "errors",
        ],
        [row for level in levels for row in _summary_rows(level, settings.variants)],
    )
    pairs = support.table(
        ["in flight", "client", "pair ratios, in order"],
        [
            (
                level.concurrency,
                variant,
                ", ".join(f"{ratio:.3f}" for ratio in level.ratios[variant]),
            )
            for level in levels
            for variant in settings.variants
        ],
    )
    errors = sum(r.errors.total() for level in levels for r in level.rounds)
    warnings = "".join(
        [
            "\n**--quick run: a smoke test, not a result.**\n" if quick else "",
            f"\n**{errors} calls failed; calls/s counts successful calls only, "
            "see the errors column.**\n"
            if errors
            else "",
        ]
    )
    rounds_note = (
        f"{settings.calls_per_round} calls per round, {settings.blocks} blocks "
        f"of {2 * (len(settings.variants) + 1)} rounds per concurrency "
        "(baseline, variants, variants in reverse, baseline) after a warm-up "
        "round of each client"
    )
    return f"""## H1 connector HTTP client throughput, {when:%Y-%m-%d %H:%M} UTC
{warnings}
`{support.command_line()}`

- **baseline `aiohttp`**: raw `aiohttp.ClientSession` GETs
  (`TCPConnector(limit=<in flight>)`), reading the body.
- **`portico`** (gated, what ships): `ConnectorCalls.run` (deadline, stamina
  retries, purgatory breaker, semaphore of <in flight> slots, a log line per
  call) around `translate_http_errors` and a GET on the client
  `connectors.runtime.build_http_client` returns, pool of <in flight>
  connections.
- Diagnostics, if any, not gated: **`portico-httpx`**, the same policy on an
  `httpx.AsyncClient` with httpx's default transport; `bare-*`, those clients
  without `ConnectorCalls` and `translate_http_errors`.
- Every Portico client keeps the default `ConnectorConfig` except
  `max_concurrency` (= calls in flight): 5 s deadline, 3 attempts, breaker
  opening after 5 failures for 30 s.
- Stub backend answering after {LATENCY_MS:g} ms; closed loop, {rounds_note}.
  Pools kept warm ({KEEPALIVE_SECONDS:g} s keep-alive). A failed call counts
  for nothing in calls/s.

{summary}

Ratios are Portico / baseline calls per second (higher is better), one per
variant round, against the baseline round in the same half-block. "driver
CPU" is the share of its CPU the single-threaded driver process used over the
round: near 100% means the client, not the 10 ms backend, sets the pace.

{pairs}

{support.render_environment(environment)}
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.h1_http_client",
        description="H1: connector HTTP client calls/s vs raw aiohttp.",
    )
    support.add_common_arguments(parser)
    parser.add_argument(
        "--concurrency",
        type=int,
        nargs="+",
        default=[20, 50, 100],
        help="calls in flight, one level after the other",
    )
    parser.add_argument(
        "--calls-per-round", type=int, default=800, help="calls in a measured round"
    )
    parser.add_argument(
        "--warmup-calls",
        type=int,
        default=200,
        help="calls in each client's warm-up round (at least one per slot)",
    )
    parser.add_argument(
        "--blocks", type=int, default=3, help="blocks of rounds per concurrency"
    )
    parser.add_argument(
        "--variants",
        nargs="+",
        choices=[*PORTICO_VARIANTS, *DIAGNOSTIC_VARIANTS],
        default=list(PORTICO_VARIANTS),
        help="clients measured against the aiohttp baseline",
    )
    args = parser.parse_args(argv)
    settings = _settings(args)
    pinning = support.Pinning.choose(args)
    logging_note = support.configure_logging(args.logging)
    load_at_start = support.load_average()
    with support.stub_backend([LATENCY_MS], pinning, args.loop) as stub:
        pinning.pin_driver()
        print(f"H1: stub pid {stub.pid} on port {stub.ports[0]}", flush=True)
        levels = support.run(lambda: measure(settings, stub), args.loop)
        environment = support.environment_rows(
            pinning, stub, args.loop, logging_note, load_at_start
        )
    text = report(settings, levels, environment, args.quick)
    print()
    print(text)
    if args.write_results:
        path = support.write_results(BENCHMARK, text, support.now_utc())
        print(f"appended to {path.relative_to(support.REPO_ROOT)}")


if __name__ == "__main__":
    main()
