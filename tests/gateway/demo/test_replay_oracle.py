"""The oracle: Portico's reports over a replayed TPC-H slice agree with DuckDB.

The demo's replay runs for real here: dealers place TPC-H orders through
the API, the worker submits them to the Tryton peer, the back office ships
and invoices them there with TPC-H's discount and tax, returns become claims
decided in Tryton, and webhooks reach a receiver that verifies them. Then
DuckDB, which knows nothing of Portico, reads the same TPC-H CSV files and
runs TPC-H's published pricing-summary query (Q1) and a per-month order
count over the same slice, and Portico's reports must agree to the cent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import duckdb
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.tryton.rpc import TrytonRpc
from domain.accounts.scopes import Scope
from gateway.api.app import create_app
from gateway.demo.plan import ErpOutcome, ReplayPlan, plan_replay
from gateway.demo.receiver import DealerReceiver, serve_receiver
from gateway.demo.replay import ReplayResult, run_replay
from gateway.peers.accounts import link_tpch_accounts
from gateway.peers.tpch import ensure_tpch_csv, load_tpch
from gateway.peers.tryton import TrytonPeer
from gateway.peers.wiring import ERP_NAME, with_tryton
from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.worker import run_worker
from tests.conftest import emptied
from tests.peers.fixtures import TEST_SCALE, peer_cache_dir
from tests.support.factories import Caller, asgi_client, make_caller

pytestmark = pytest.mark.tryton

#: The first orders by key: 11 finished (5 with returned lines), 12 open, 1
#: partly shipped at scale 0.01; about a minute through SQLite-backed Tryton.
SLICE = 24
CENT = Decimal("0.01")

# TPC-H Q1, the pricing summary report, as published; the only addition is
# the slice: the replayed orders the ERP finished (and so invoiced).
Q1 = """
select
    l_returnflag,
    l_linestatus,
    sum(l_quantity) as sum_qty,
    sum(l_extendedprice) as sum_base_price,
    sum(l_extendedprice * (1 - l_discount)) as sum_disc_price,
    sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) as sum_charge,
    avg(l_quantity) as avg_qty,
    avg(l_extendedprice) as avg_price,
    avg(l_discount) as avg_disc,
    count(*) as count_order
from lineitem
where l_shipdate <= date '1998-12-01' - interval '90' day
    and l_orderkey in (
        select o_orderkey from orders
        where o_orderkey in (select unnest($orderkeys)) and o_orderstatus = 'F'
    )
group by l_returnflag, l_linestatus
order by l_returnflag, l_linestatus
"""

MONTHLY_ORDERS = """
select strftime(o_orderdate, '%Y-%m') as month, count(*) as orders
from orders
where o_orderkey in (select unnest($orderkeys))
group by month
order by month
"""

_DECIMAL = "DECIMAL(12, 2)"


@dataclass(frozen=True, slots=True)
class Replayed:
    plan: ReplayPlan
    result: ReplayResult
    receiver: DealerReceiver
    api: httpx.AsyncClient
    supplier: Caller


class _Quiet:
    def phase(self, description: str, total: int) -> Callable[[int], None]:
        return lambda done: None


@contextlib.asynccontextmanager
async def _worker(runtime: Runtime) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(runtime, stop, signals=False))
    try:
        yield
    finally:
        stop.set()
        await task


@pytest.fixture(scope="module")
async def replayed(
    tryton_peer: TrytonPeer, settings: Settings, engine: AsyncEngine
) -> AsyncIterator[Replayed]:
    """One replay for the whole module: it takes about a minute."""
    sessions = await emptied(engine)
    tpch = load_tpch(peer_cache_dir(), TEST_SCALE)
    plan = plan_replay(tpch, tryton_peer.manifest, SLICE)
    accounts = await link_tpch_accounts(sessions, tpch, tryton_peer.manifest, ERP_NAME)
    bound = with_tryton(
        settings,
        tryton_peer,
        deadline_seconds=30.0,
        complaint_type_id=tryton_peer.manifest.complaint_type_id,
    ).model_copy(
        update={
            "webhooks": settings.webhooks.model_copy(
                update={"allow_http": True, "allowed_targets": ["127.0.0.1"]}
            ),
            "worker": settings.worker.model_copy(
                update={"submit_interval_seconds": 0.5, "sync_interval_seconds": 0.5}
            ),
        }
    )
    database_url = bound.database.url
    assert database_url is not None
    runtime = Runtime(bound, database_url.get_secret_value(), embedded=False)
    supplier = await make_caller(
        sessions,
        name="Supplier's sales office",
        scopes=frozenset({Scope.REPORTS_READ, Scope.REPORTS_ALL}),
    )
    receiver = DealerReceiver()
    application = create_app(bound)
    async with (
        application.router.lifespan_context(application),
        asgi_client(application) as api,
        serve_receiver(receiver) as receiver_url,
        httpx.AsyncClient(base_url=tryton_peer.url, timeout=60) as erp_http,
        _worker(runtime),
    ):
        rpc = TrytonRpc(
            erp_http,
            tryton_peer.database,
            tryton_peer.admin_login,
            tryton_peer.admin_password,
        )
        await rpc.login()
        result = await run_replay(
            plan,
            accounts,
            api=api,
            rpc=rpc,
            sessions=sessions,
            receiver=receiver,
            receiver_url=receiver_url,
            progress=_Quiet(),
            kafka=False,
            phase_timeout=240.0,
        )
        yield Replayed(plan, result, receiver, api, supplier)


def _duckdb(orderkeys: list[int]) -> duckdb.DuckDBPyConnection:
    """DuckDB over the TPC-H CSV files the peer was seeded from, money exact."""
    directory = ensure_tpch_csv(peer_cache_dir(), TEST_SCALE)
    database = duckdb.connect()
    money = dict.fromkeys(
        ("l_quantity", "l_extendedprice", "l_discount", "l_tax"), _DECIMAL
    )
    database.execute(
        "create table lineitem as "
        "select * from read_csv($path, header = true, types = $types)",
        {"path": str(directory / "lineitem.csv"), "types": money},
    )
    database.execute(
        "create table orders as select * from read_csv($path, header = true)",
        {"path": str(directory / "orders.csv")},
    )
    return database


def _cents(amount: Decimal) -> str:
    return str(amount.quantize(CENT, rounding=ROUND_HALF_UP))


async def _report(replayed: Replayed, **params: Any) -> dict[str, Any]:
    response = await replayed.api.get(
        "/v1/reports/orders",
        params={"from": "1992-01-01", "to": "1999-01-01", "account": "all", **params},
        headers=replayed.supplier.headers,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_the_replay_runs_the_whole_chain_without_an_error(
    replayed: Replayed,
) -> None:
    plan, result, tally = replayed.plan, replayed.result, replayed.receiver.tally

    assert result.errors == []
    assert len(result.order_ids) == SLICE
    assert plan.count(ErpOutcome.INVOICED) > 0
    assert plan.returns
    assert len(result.claim_ids) == len(plan.returns)
    assert tally.verified == tally.received > 0
    assert tally.rejected == 0
    assert tally.by_type["order.created"] == SLICE


async def test_portico_agrees_with_tpch_q1_to_the_cent(replayed: Replayed) -> None:
    orderkeys = sorted(replayed.result.order_ids)
    q1 = _duckdb(orderkeys).execute(Q1, {"orderkeys": orderkeys}).fetchall()
    quantity = sum((Decimal(row[2]) for row in q1), Decimal(0))
    gross = sum((Decimal(row[3]) for row in q1), Decimal(0))
    net = sum((Decimal(row[4]) for row in q1), Decimal(0))
    charge = sum((Decimal(row[5]) for row in q1), Decimal(0))
    lines = sum(int(row[9]) for row in q1)

    report = await _report(replayed, group_by="currency", status="invoiced")

    (totals,) = report["totals"]
    assert q1, "the slice has finished orders"
    assert totals["currency"] == "USD"
    assert totals["orders"] == replayed.plan.count(ErpOutcome.INVOICED)
    assert totals["lines"] == lines
    assert Decimal(totals["quantity"]) == quantity
    assert totals["gross"]["amount"] == _cents(gross)
    assert totals["net"]["amount"] == _cents(net)
    assert totals["discount"]["amount"] == _cents(gross - net)
    assert totals["tax"]["amount"] == _cents(charge - net)
    assert totals["total"]["amount"] == _cents(charge)


async def test_portico_counts_the_slices_orders_per_month_as_duckdb_does(
    replayed: Replayed,
) -> None:
    orderkeys = sorted(replayed.result.order_ids)
    monthly = _duckdb(orderkeys).execute(MONTHLY_ORDERS, {"orderkeys": orderkeys})
    expected = {str(month): int(count) for month, count in monthly.fetchall()}

    report = await _report(replayed, group_by="month")

    assert {row["group"]: row["orders"] for row in report["groups"]} == expected
    assert sum(expected.values()) == SLICE
