"""E1: the main job's orders per second through Portico vs straight into Tryton.

Portico (A): dealers place TPC-H orders through the HTTP API (priced by the
ERP, stored with their outbox event, answered at once), and the worker
submits each to Tryton; a round ends when every order of the round is
confirmed in Tryton and Portico knows it (accepted on its timeline).

Baseline (B): the same kind of orders, the next ones of the slice, written
to the same Tryton directly with the Tryton connector's submission (create,
quote, confirm), one after another as a back-office import would.

Rounds alternate A B B A; each pair's ratio is Portico's orders/s over the
baseline's. Both sides end at the same Tryton (SQLite-backed, which
serialises writes), so the ratio is the cost of the gateway's path: API,
pricing reads, PostgreSQL, outbox, worker pickup, and the status sync.

Run: ``.venv/bin/python -m bench.e1_replay`` (add ``--write-results``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
from pydantic import SecretStr
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tests.support.database import test_database

from bench import _support as support
from connectors.tryton.orders import TrytonOrders
from connectors.tryton.rpc import TrytonRpc
from domain.accounts.scopes import DEALER_SCOPES
from domain.money import Money
from domain.orders.erp import ErpOrderLine, ErpOrderRequest
from gateway.accounts import service
from gateway.api.app import create_app
from gateway.db.engine import create_engine, session_factory
from gateway.db.migrations import upgrade_to_head
from gateway.db.tables import OrderEventRow
from gateway.demo.plan import PlannedOrder, plan_replay
from gateway.demo.serving import serve_on_loopback
from gateway.peers.accounts import link_tpch_accounts
from gateway.peers.tpch import load_tpch
from gateway.peers.tryton import TrytonPeer
from gateway.peers.tryton_seed import SeedManifest
from gateway.peers.wiring import ERP_NAME, with_tryton
from gateway.runtime import Runtime
from gateway.settings import DatabaseSettings, Settings, default_peer_cache_dir
from gateway.worker import run_worker

BENCHMARK = "E1"
_IN_FLIGHT = 8
_POLL_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class Plan:
    scale: float
    orders_per_round: int
    pairs: int


@dataclass(frozen=True, slots=True)
class Round:
    side: str
    orders: int
    lines: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.orders / self.seconds


class Bench:
    def __init__(
        self,
        api: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        tryton: TrytonOrders,
        manifest: SeedManifest,
        keys: dict[int, str],
    ) -> None:
        self._api = api
        self._sessions = sessions
        self._tryton = tryton
        self._manifest = manifest
        self._keys = keys
        self._gate = asyncio.Semaphore(_IN_FLIGHT)

    async def portico(self, orders: Sequence[PlannedOrder]) -> Round:
        started = time.perf_counter()
        ids = await asyncio.gather(*(self._place(order) for order in orders))
        while True:
            if await self._accepted(ids) == len(ids):
                break
            await asyncio.sleep(_POLL_SECONDS)
        return Round(
            "Portico", len(orders), _lines(orders), time.perf_counter() - started
        )

    async def direct(self, orders: Sequence[PlannedOrder]) -> Round:
        started = time.perf_counter()
        for order in orders:
            await self._tryton.submit(self._request(order))
        return Round(
            "direct", len(orders), _lines(orders), time.perf_counter() - started
        )

    async def _place(self, order: PlannedOrder) -> uuid.UUID:
        async with self._gate:
            response = await self._api.post(
                "/v1/orders",
                json=order.order_body(),
                headers={
                    "Authorization": f"Bearer {self._keys[order.custkey]}",
                    "Idempotency-Key": f"e1-{order.orderkey}",
                },
            )
        if response.status_code != 201:
            raise RuntimeError(f"placing {order.orderkey}: {response.text[:300]}")
        return uuid.UUID(response.json()["id"])

    async def _accepted(self, ids: Sequence[uuid.UUID]) -> int:
        async with self._sessions() as session:
            count = await session.scalar(
                select(func.count(func.distinct(OrderEventRow.order_id))).where(
                    OrderEventRow.order_id.in_(ids),
                    OrderEventRow.status == "accepted",
                )
            )
        return int(count or 0)

    def _request(self, order: PlannedOrder) -> ErpOrderRequest:
        customer = self._manifest.customers[order.custkey]
        return ErpOrderRequest(
            order_id=uuid.uuid4(),
            customer_ref=str(customer.party_id),
            lines=tuple(
                ErpOrderLine(
                    sku=line.sku,
                    quantity=Decimal(line.quantity),
                    unit_price=Money(line.list_price, "USD"),
                )
                for line in order.lines
            ),
            currency="USD",
            requested_date=None,
            customer_reference=order.customer_reference,
        )


def _lines(orders: Sequence[PlannedOrder]) -> int:
    return sum(len(order.lines) for order in orders)


async def measure(plan: Plan, database_url: str) -> tuple[list[Round], str]:
    cache_dir = default_peer_cache_dir()
    rounds_needed = 2 * plan.pairs + 2  # the pairs, plus one warm-up per side
    async with TrytonPeer(cache_dir, scale=plan.scale) as erp:
        tpch = await asyncio.to_thread(load_tpch, cache_dir, plan.scale)
        replay = plan_replay(tpch, erp.manifest, rounds_needed * plan.orders_per_round)
        chunks = [
            replay.orders[start : start + plan.orders_per_round]
            for start in range(0, len(replay.orders), plan.orders_per_round)
        ]
        settings = with_tryton(
            Settings(database=DatabaseSettings(url=SecretStr(database_url))),
            erp,
            deadline_seconds=30.0,
        )
        engine = create_engine(settings.database, database_url)
        sessions = session_factory(engine)
        accounts = await link_tpch_accounts(sessions, tpch, erp.manifest, ERP_NAME)
        keys = {
            custkey: (
                await service.create_key(sessions, accounts[custkey], DEALER_SCOPES)
            ).token
            for custkey in replay.custkeys
        }
        async with sessions() as session:
            postgres = str(await session.scalar(text("SHOW server_version")))
        stop = asyncio.Event()
        worker = asyncio.create_task(
            run_worker(Runtime(settings, database_url, False), stop, signals=False)
        )
        try:
            async with (
                serve_on_loopback(create_app(settings)) as (url, _),
                httpx.AsyncClient(base_url=url, timeout=120) as api,
                httpx.AsyncClient(base_url=erp.url, timeout=120) as erp_http,
            ):
                rpc = TrytonRpc(
                    erp_http, erp.database, erp.admin_login, erp.admin_password
                )
                await rpc.login()
                bench = Bench(
                    api, sessions, TrytonOrders(rpc, ERP_NAME), erp.manifest, keys
                )
                await bench.portico(chunks[0])
                await bench.direct(chunks[1])
                rounds: list[Round] = []
                for pair in range(plan.pairs):
                    first, second = chunks[2 + 2 * pair], chunks[3 + 2 * pair]
                    if pair % 2 == 0:
                        rounds += [
                            await bench.portico(first),
                            await bench.direct(second),
                        ]
                    else:
                        rounds += [
                            await bench.direct(first),
                            await bench.portico(second),
                        ]
                    print(
                        f"pair {pair + 1}/{plan.pairs}: "
                        + ", ".join(
                            f"{r.side} {r.rate:.2f} orders/s" for r in rounds[-2:]
                        ),
                        flush=True,
                    )
        finally:
            stop.set()
            await worker
            await engine.dispose()
    return rounds, postgres


def report(
    plan: Plan, rounds: list[Round], env: list[tuple[str, str]], quick: bool
) -> str:
    portico = [r for r in rounds if r.side == "Portico"]
    direct = [r for r in rounds if r.side == "direct"]
    ratios = [a.rate / b.rate for a, b in zip(portico, direct, strict=True)]
    spread = support.Spread.of(ratios)
    rows = [
        (
            "Portico: API, worker, Tryton",
            f"{support.Spread.of([r.rate for r in portico]).median:.2f}",
            f"{sum(r.lines for r in portico) / sum(r.seconds for r in portico):.1f}",
            "",
        ),
        (
            "direct: connector submit to Tryton",
            f"{support.Spread.of([r.rate for r in direct]).median:.2f}",
            f"{sum(r.lines for r in direct) / sum(r.seconds for r in direct):.1f}",
            "",
        ),
        (
            "ratio (Portico / direct)",
            "",
            "",
            f"**{spread.median:.2f}x** ({spread.low:.2f}-{spread.high:.2f})",
        ),
    ]
    heading = "## E1: TPC-H orders replayed through Portico vs written to Tryton"
    lines = [
        heading + (" (--quick: a smoke test, not a result)" if quick else ""),
        "",
        f"Command: `{support.command_line()}`",
        "",
        f"TPC-H scale {plan.scale:g}; {plan.pairs} pairs of rounds (A B, then B A), "
        f"{plan.orders_per_round} distinct orders a round, after one warm-up round "
        "each; a Portico round ends when Tryton has confirmed every order and "
        "Portico's timeline says accepted. Target: reported, not gated yet.",
        "",
        support.table(["path", "orders/s (median)", "lines/s", "ratio"], rows),
        "",
        support.render_environment(env),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.e1_replay",
        description="E1: TPC-H orders through Portico into Tryton vs straight into "
        "Tryton.",
    )
    parser.add_argument("--quick", action="store_true", help="a smoke test")
    parser.add_argument("--write-results", action="store_true")
    parser.add_argument("--scale", type=float, default=0.01, help="TPC-H scale")
    parser.add_argument("--orders-per-round", type=int, default=20)
    parser.add_argument("--pairs", type=int, default=4)
    args = parser.parse_args(argv)
    plan = Plan(
        scale=args.scale,
        orders_per_round=3 if args.quick else args.orders_per_round,
        pairs=1 if args.quick else args.pairs,
    )
    support.configure_logging("off")
    load_at_start = support.load_average()
    with (
        tempfile.TemporaryDirectory(prefix="portico-e1-") as tmp,
        test_database(Path(tmp)) as url,
    ):
        upgrade_to_head(url)
        rounds, postgres = asyncio.run(measure(plan, url))
    embedded = not os.environ.get("PORTICO_TEST_DATABASE_URL")
    env = [
        support.python_row(),
        support.library_row("trytond", "fastapi", "sqlalchemy", "asyncpg", "httpx"),
        support.portico_row(),
        support.cpus_row(),
        (
            "PostgreSQL",
            f"{postgres} ({'embedded, temporary' if embedded else 'server'})",
        ),
        ("Tryton", "8.2 on SQLite, the TPC-H seed snapshot, one trytond process"),
        (
            "where",
            "one process: gateway (uvicorn on loopback), worker, load driver and "
            "the direct baseline; trytond and PostgreSQL in their own processes; "
            "not pinned",
        ),
        (
            "load average (1/5/15 min)",
            f"{load_at_start} at start, {support.load_average()} at end",
        ),
    ]
    text_report = report(plan, rounds, env, args.quick)
    print()
    print(text_report)
    if args.write_results:
        path = support.write_results(BENCHMARK, text_report, support.now_utc())
        print(f"appended to {path.relative_to(support.REPO_ROOT)}")


if __name__ == "__main__":
    main()
