"""The orders report against DuckDB as an oracle: TPC-H Q1's sums over the
same lines, in DuckDB's exact DECIMAL arithmetic, rounded half away from
zero to the cent, must be the report's figures to the cent."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

import duckdb
import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.gateway.reports.conftest import Line, add_order
from tests.support.factories import Caller

#: Q1's figures, over lines grouped by month as the report groups them.
Q1 = """
SELECT strftime(order_date, '%Y-%m') AS month,
       count(DISTINCT order_no) AS orders,
       count(*) AS count_order,
       sum(l_quantity) AS sum_qty,
       round(sum(l_extendedprice), 2) AS sum_base_price,
       round(sum(l_extendedprice * (1 - l_discount)), 2) AS sum_disc_price,
       round(sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)), 2) AS sum_charge
FROM lineitem
GROUP BY month
ORDER BY month
"""


#: Pieces, retail price, discount and tax of one line.
TpchLine = tuple[int, Decimal, Decimal, Decimal]


def tpch_lines(seed: int, orders: int) -> list[tuple[int, date, list[TpchLine]]]:
    """Orders of TPC-H-shaped lines: 1 to 50 pieces at a retail price with
    cents, a discount of 0 to 10 % and a tax of 0 to 8 %."""
    generator = random.Random(seed)
    made: list[tuple[int, date, list[TpchLine]]] = []
    for number in range(orders):
        day = date(1998, 1, 1) + timedelta(days=generator.randrange(150))
        lines: list[TpchLine] = [
            (
                generator.randint(1, 50),
                Decimal(generator.randint(90_000, 110_000)) / 100,
                Decimal(generator.randint(0, 10)) / 100,
                Decimal(generator.randint(0, 8)) / 100,
            )
            for _ in range(generator.randint(1, 7))
        ]
        made.append((number, day, lines))
    return made


async def test_the_report_matches_tpch_q1_in_duckdb_to_the_cent(
    client: httpx.AsyncClient,
    caller: Caller,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    orders = tpch_lines(seed=19980902, orders=120)
    oracle = duckdb.connect()
    oracle.execute(
        "CREATE TABLE lineitem (order_no INTEGER, order_date DATE, "
        "l_quantity DECIMAL(15, 2), l_extendedprice DECIMAL(15, 2), "
        "l_discount DECIMAL(15, 2), l_tax DECIMAL(15, 2))"
    )
    for number, day, lines in orders:
        await add_order(
            sessions,
            caller.account,
            day,
            *[
                Line(quantity, str(price), str(price * (1 - discount)), str(tax))
                for quantity, price, discount, tax in lines
            ],
        )
        oracle.executemany(
            "INSERT INTO lineitem VALUES (?, ?, ?, ?, ?, ?)",
            [
                (number, day, quantity, quantity * price, discount, tax)
                for quantity, price, discount, tax in lines
            ],
        )

    response = await client.get(
        "/v1/reports/orders",
        params={"from": "1998-01-01", "to": "1998-07-01", "group_by": "month"},
        headers=caller.headers,
    )

    assert response.status_code == 200, response.text
    expected = [
        (month, orders_, count, int(qty), f"{base:.2f}", f"{disc:.2f}", f"{charge:.2f}")
        for month, orders_, count, qty, base, disc, charge in oracle.execute(
            Q1
        ).fetchall()
    ]
    assert len(expected) == 5
    assert [
        (
            row["group"],
            row["orders"],
            row["lines"],
            row["quantity"],
            row["gross"]["amount"],
            row["net"]["amount"],
            row["total"]["amount"],
        )
        for row in response.json()["groups"]
    ] == expected
