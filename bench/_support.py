"""What every Portico benchmark shares: the stub process, CPU pinning, the
event loop, logging, statistics, versions and the result tables.

See /work/shared/design/BENCHMARKS.md (the rules) and bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import gc
import importlib.metadata
import json
import logging
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, TypeVar

import structlog

T = TypeVar("T")

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
REPO_ROOT = BENCH_DIR.parent

LoopName = Literal["uvloop", "asyncio"]
LoggingMode = Literal["production-json", "off"]


# --- command line -----------------------------------------------------------


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a tiny run that finishes in seconds (a smoke test, not a result)",
    )
    parser.add_argument(
        "--write-results",
        action="store_true",
        help="append the table to bench/results/<today>-<id>.md",
    )
    parser.add_argument(
        "--driver-cpu",
        type=int,
        default=0,
        help="CPU for this process: Portico, its baseline and the load driver",
    )
    parser.add_argument(
        "--stub-cpu", type=int, default=1, help="CPU for the stub backend process"
    )
    parser.add_argument(
        "--no-pin", action="store_true", help="do not pin either process to a CPU"
    )
    parser.add_argument(
        "--loop",
        choices=["uvloop", "asyncio"],
        default="uvloop",
        help="event loop for both processes (uvicorn runs Portico on uvloop)",
    )
    parser.add_argument(
        "--logging",
        choices=["production-json", "off"],
        default="production-json",
        help=(
            "production-json: Portico's own production logging (JSON lines) "
            "with the root handler writing to /dev/null; off: structlog drops "
            "every line before rendering"
        ),
    )


# --- CPU pinning --------------------------------------------------------------


@dataclass(frozen=True)
class Pinning:
    driver_cpu: int | None
    stub_cpu: int | None
    note: str

    @staticmethod
    def choose(args: argparse.Namespace) -> Pinning:
        if args.no_pin:
            return Pinning(None, None, "not pinned (--no-pin)")
        if not hasattr(os, "sched_setaffinity"):
            return Pinning(None, None, "not pinned (no sched_setaffinity here)")
        available = os.sched_getaffinity(0)
        wanted = {args.driver_cpu, args.stub_cpu}
        if len(wanted) < 2 or not wanted <= available:
            return Pinning(
                None,
                None,
                f"not pinned (asked for CPUs {sorted(wanted)}, "
                f"have {sorted(available)})",
            )
        return Pinning(args.driver_cpu, args.stub_cpu, "pinned")

    def pin_driver(self) -> None:
        if self.driver_cpu is not None:
            os.sched_setaffinity(0, {self.driver_cpu})


def affinity_of(pid: int) -> str:
    try:
        return ",".join(str(cpu) for cpu in sorted(os.sched_getaffinity(pid)))
    except (AttributeError, OSError):
        return "unknown"


def pin_process(pid: int, cpu: int) -> bool:
    """Pin every thread of process ``pid`` to ``cpu``; False if it is gone.

    ``os.sched_setaffinity(pid)`` moves one thread only: a multi-threaded
    server (the Kafka broker runs a thread pool) keeps its other threads
    where they were, so each thread in ``/proc/<pid>/task`` is pinned.
    """
    try:
        threads = [int(task.name) for task in Path(f"/proc/{pid}/task").iterdir()]
    except OSError:
        threads = [pid]
    pinned = False
    for thread in threads:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(thread, {cpu})
            pinned = True
    return pinned


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its living descendants (Linux ``/proc``)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(stat[1]), []).append(int(entry.name))
    tree: list[int] = []
    todo = [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += children.get(current, [])
    return tree


def cpu_ticks(cpu: int) -> tuple[int, int] | None:
    """Busy and total clock ticks CPU ``cpu`` has counted since boot, every
    process included (``/proc/stat``; steal counts as busy). Two readings
    give how busy the CPU was in between, whoever kept it busy."""
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        name, *fields = line.split()
        if name == f"cpu{cpu}":
            user, nice, system, idle, iowait, irq, softirq, steal = map(int, fields[:8])
            busy = user + nice + system + irq + softirq + steal
            return busy, busy + idle + iowait
    return None


def process_cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time process ``pid`` has used (Linux only)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1]
    except OSError:
        return None
    parts = fields.split()
    ticks = int(parts[11]) + int(parts[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


# --- the stub backend process ------------------------------------------------


@dataclass(frozen=True)
class Stub:
    pid: int
    ports: list[int]
    host: str

    def url(self, index: int = 0) -> str:
        return f"http://{self.host}:{self.ports[index]}"

    def cpu_seconds(self) -> float | None:
        """User plus system CPU time the stub has used so far (Linux only)."""
        return process_cpu_seconds(self.pid)


@contextlib.contextmanager
def stub_backend(
    latencies_ms: Sequence[float], pinning: Pinning, loop: LoopName
) -> Iterator[Stub]:
    """Start ``bench.stub`` in its own process, one port per latency."""
    host = "127.0.0.1"
    command = [
        sys.executable,
        "-m",
        "bench.stub",
        "--host",
        host,
        "--loop",
        loop,
        "--latency-ms",
        *(f"{latency:g}" for latency in latencies_ms),
    ]
    if pinning.stub_cpu is not None:
        command += ["--cpu", str(pinning.stub_cpu)]
    process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        command, stdout=subprocess.PIPE, cwd=REPO_ROOT, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"stub exited with {process.wait()} before listening")
        ready: dict[str, Any] = json.loads(line)
        yield Stub(pid=int(ready["pid"]), ports=list(ready["ports"]), host=host)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- event loop and logging ---------------------------------------------------


def run(main: Callable[[], Awaitable[T]], loop: LoopName) -> T:
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    if loop == "uvloop":
        import uvloop

        loop_factory = uvloop.new_event_loop

    async def wrapped() -> T:
        return await main()

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(wrapped())


def configure_logging(mode: LoggingMode) -> str:
    """Set up logging for both sides alike; return what was done, for the table."""
    if mode == "off":
        structlog.configure(
            processors=[],
            wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL),
            logger_factory=structlog.ReturnLoggerFactory(),
            cache_logger_on_first_use=True,
        )
        logging.getLogger().setLevel(logging.CRITICAL)
        return (
            "off: structlog filters every connector.call line before rendering "
            "(a lower bound on Portico's cost)"
        )
    from gateway.logs import configure_logging as portico_logging
    from gateway.settings import LogFormat, LogSettings, RunMode, Settings

    portico_logging(
        Settings(
            mode=RunMode.PRODUCTION,
            log=LogSettings(level="INFO", format=LogFormat.JSON),
        )
    )
    devnull: IO[str] = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the run
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(devnull)
    return (
        "production-json: gateway.logs.configure_logging in production mode "
        "(INFO, JSON lines), root handler writing to /dev/null; Portico renders "
        "and writes one connector.call line per call, the baseline none"
    )


def settle() -> None:
    """Between rounds: collect garbage so that one round's leftovers do not
    land in the next one's timings."""
    gc.collect()


class CpuMeter:
    """CPU used by this process and the stub over a stretch of wall time."""

    def __init__(self, stub: Stub) -> None:
        self._stub = stub
        self._wall = time.perf_counter()
        self._own = time.process_time()
        self._stub_cpu = stub.cpu_seconds()

    def shares(self) -> tuple[float, float | None]:
        wall = time.perf_counter() - self._wall
        own = (time.process_time() - self._own) / wall
        stub_now = self._stub.cpu_seconds()
        if stub_now is None or self._stub_cpu is None:
            return own, None
        return own, (stub_now - self._stub_cpu) / wall


# --- statistics ---------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Spread:
    median: float
    low: float
    high: float

    @staticmethod
    def of(values: Sequence[float]) -> Spread:
        if not values:
            return Spread(math.nan, math.nan, math.nan)
        return Spread(statistics.median(values), min(values), max(values))


def verdict(
    ratio: float, target: float, floor: float, *, higher_is_better: bool
) -> str:
    if math.isnan(ratio):
        return "no data"
    if higher_is_better:
        met, held = ratio >= target, ratio >= floor
    else:
        met, held = ratio <= target, ratio <= floor
    if met:
        return "meets target"
    if held:
        return "misses target, above floor"
    return "**below floor**"


# --- tables and results -------------------------------------------------------


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(cell) for cell in row] for row in rows]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(row) + " |" for row in cells),
    ]
    return "\n".join(lines)


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _git_commit() -> str:
    git = shutil.which("git")
    if git is None:
        return "unknown"
    try:
        head = subprocess.run(  # noqa: S603 - fixed arguments
            [git, "rev-parse", "--short", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(  # noqa: S603 - fixed arguments
            [git, "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} (uncommitted changes)" if dirty else head


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: how busy the shared machine was."""
    try:
        return " / ".join(f"{load:.2f}" for load in os.getloadavg())
    except OSError:
        return "unknown"


def environment_rows(
    pinning: Pinning,
    stub: Stub,
    loop: LoopName,
    logging_note: str,
    load_at_start: str,
) -> list[tuple[str, str]]:
    own = os.getpid()
    where = (
        f"driver pid {own} (Portico, baseline and load driver in one process) on "
        f"CPU {affinity_of(own)}; stub pid {stub.pid} on CPU {affinity_of(stub.pid)}"
    )
    return [
        python_row(),
        library_row(
            "httpx",
            "httpcore",
            "aiohttp",
            "httpx-aiohttp",
            "structlog",
            "stamina",
            "purgatory",
            "pydantic",
        ),
        portico_row(),
        ("event loop", f"{loop_description(loop)} in both processes"),
        cpus_row(),
        ("pinning", f"{pinning.note}: {where}"),
        ("logging", logging_note),
        (
            "load average (1/5/15 min)",
            f"{load_at_start} at start, {load_average()} at end",
        ),
    ]


def python_row() -> tuple[str, str]:
    return (
        "Python",
        f"{platform.python_version()} ({platform.python_implementation()})",
    )


def library_row(*distributions: str) -> tuple[str, str]:
    """The installed version of each distribution, for the environment table."""
    return (
        "libraries",
        ", ".join(f"{name} {_version(name)}" for name in distributions),
    )


def portico_row() -> tuple[str, str]:
    return (
        "Portico",
        f"portico-gateway {_version('portico-gateway')}, {_git_commit()}",
    )


def cpus_row() -> tuple[str, str]:
    return ("CPUs", f"{os.cpu_count()} x {_cpu_model()}, {platform.system()}")


def loop_description(loop: LoopName) -> str:
    return f"uvloop {_version('uvloop')}" if loop == "uvloop" else "asyncio"


def render_environment(rows: Sequence[tuple[str, str]]) -> str:
    return table(["", ""], rows)


def command_line() -> str:
    module = Path(sys.argv[0]).stem
    return " ".join(["python -m", f"bench.{module}", *sys.argv[1:]])


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def write_results(benchmark_id: str, report: str, when: dt.datetime) -> Path:
    """Append ``report`` to bench/results/<date>-<id>.md and return the path."""
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{when:%Y-%m-%d}-{benchmark_id.lower()}.md"
    new = not path.exists()
    with path.open("a", encoding="utf-8") as out:
        if new:
            out.write(f"# {benchmark_id} results, {when:%Y-%m-%d}\n\n")
        else:
            out.write("\n---\n\n")
        out.write(report.rstrip() + "\n")
    return path
