"""TPC-H data: generate it with ``tpchgen-cli`` and read it as typed rows.

TPC-H models a wholesale supplier (customers in nations ordering parts), which
is what Portico's demo and tests feed the ERP with. :func:`ensure_tpch_csv`
generates the CSV tables once per scale factor into a cache directory and
:func:`load_tpch` parses the tables the seed and the tests use.

``tpchgen-cli csv`` writes one ``<table>.csv`` per table, comma separated,
with a header row of column names and RFC 4180 double-quoting for fields that
contain commas. Money is written with two decimals and dates as ISO dates.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Final, TypeVar

__all__ = [
    "DEFAULT_SCALE",
    "TPCH_TABLES",
    "Customer",
    "LineItem",
    "Nation",
    "Order",
    "Part",
    "PartSupp",
    "TpchData",
    "ensure_tpch_csv",
    "find_tpchgen",
    "load_tpch",
    "scale_label",
]

logger = logging.getLogger(__name__)

DEFAULT_SCALE: Final = 0.01
TPCH_TABLES: Final = (
    "region",
    "nation",
    "supplier",
    "customer",
    "part",
    "partsupp",
    "orders",
    "lineitem",
)
_COMPLETE_MARKER: Final = ".complete"


@dataclass(frozen=True, slots=True)
class Nation:
    """A TPC-H nation (25 fixed rows)."""

    nationkey: int
    name: str
    regionkey: int
    comment: str


@dataclass(frozen=True, slots=True)
class Customer:
    """A TPC-H customer: a business buying parts."""

    custkey: int
    name: str
    address: str
    nationkey: int
    phone: str
    acctbal: Decimal
    mktsegment: str
    comment: str


@dataclass(frozen=True, slots=True)
class Part:
    """A TPC-H part: a product the supplier sells."""

    partkey: int
    name: str
    mfgr: str
    brand: str
    type: str
    size: int
    container: str
    retailprice: Decimal
    comment: str


@dataclass(frozen=True, slots=True)
class PartSupp:
    """How much of a part one supplier has, and at what cost."""

    partkey: int
    suppkey: int
    availqty: int
    supplycost: Decimal
    comment: str


@dataclass(frozen=True, slots=True)
class Order:
    """A TPC-H order header."""

    orderkey: int
    custkey: int
    orderstatus: str
    totalprice: Decimal
    orderdate: dt.date
    orderpriority: str
    clerk: str
    shippriority: int
    comment: str


@dataclass(frozen=True, slots=True)
class LineItem:
    """A TPC-H order line, with shipping dates and return flag."""

    orderkey: int
    partkey: int
    suppkey: int
    linenumber: int
    quantity: Decimal
    extendedprice: Decimal
    discount: Decimal
    tax: Decimal
    returnflag: str
    linestatus: str
    shipdate: dt.date
    commitdate: dt.date
    receiptdate: dt.date
    shipinstruct: str
    shipmode: str
    comment: str


@dataclass(frozen=True, slots=True)
class TpchData:
    """The parsed TPC-H tables at one scale factor, in file order."""

    scale: float
    nations: tuple[Nation, ...]
    customers: tuple[Customer, ...]
    parts: tuple[Part, ...]
    partsupps: tuple[PartSupp, ...]
    orders: tuple[Order, ...]
    lineitems: tuple[LineItem, ...]

    def nation_names(self) -> dict[int, str]:
        """Map nation key to nation name."""
        return {nation.nationkey: nation.name for nation in self.nations}

    def available_quantity(self) -> dict[int, int]:
        """Map part key to the sum of ``ps_availqty`` over its suppliers."""
        totals: dict[int, int] = {}
        for row in self.partsupps:
            totals[row.partkey] = totals.get(row.partkey, 0) + row.availqty
        return totals

    def lowest_supply_cost(self) -> dict[int, Decimal]:
        """Map part key to the cheapest ``ps_supplycost`` among its suppliers."""
        costs: dict[int, Decimal] = {}
        for row in self.partsupps:
            current = costs.get(row.partkey)
            if current is None or row.supplycost < current:
                costs[row.partkey] = row.supplycost
        return costs


def scale_label(scale: float) -> str:
    """Return a stable file-name-safe label for a scale factor (``0.01``)."""
    if scale <= 0:
        raise ValueError("the TPC-H scale factor must be positive")
    return format(scale, "g")


def find_tpchgen() -> Path:
    """Return the ``tpchgen-cli`` executable.

    Prefers the one installed next to the running interpreter (the project's
    virtualenv, which need not be on PATH), then PATH.

    Raises:
        FileNotFoundError: neither place has it.
    """
    beside = Path(sys.executable).parent / "tpchgen-cli"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("tpchgen-cli")
    if found is None:
        raise FileNotFoundError(
            "tpchgen-cli not found: install the project's 'peers' extra"
        )
    return Path(found)


def ensure_tpch_csv(cache_dir: Path, scale: float = DEFAULT_SCALE) -> Path:
    """Return a directory holding every TPC-H table as CSV at ``scale``.

    Generates the tables on first use into ``cache_dir/tpch/sf<scale>`` and
    reuses them afterwards. Generation happens in a temporary sibling
    directory that is renamed into place only when complete, so a crash or a
    concurrent run never leaves a half-written directory behind.
    """
    target = cache_dir / "tpch" / f"sf{scale_label(scale)}"
    if (target / _COMPLETE_MARKER).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=".build-", dir=target.parent))
    try:
        command = [
            str(find_tpchgen()),
            "csv",
            "--scale-factor",
            scale_label(scale),
            "--output-dir",
            str(building),
            "--quiet",
        ]
        logger.info("Generating TPC-H CSV at scale %s into %s", scale, target)
        completed = subprocess.run(  # noqa: S603 - fixed argv, no shell
            command, capture_output=True, text=True, check=False
        )
        if completed.returncode != 0:
            raise RuntimeError(
                f"tpchgen-cli failed with exit code {completed.returncode}: "
                f"{completed.stderr.strip()[-2000:]}"
            )
        missing = [t for t in TPCH_TABLES if not (building / f"{t}.csv").is_file()]
        if missing:
            raise RuntimeError(f"tpchgen-cli did not write: {', '.join(missing)}")
        (building / _COMPLETE_MARKER).write_text(scale_label(scale) + "\n")
        try:
            building.rename(target)
        except OSError:
            # Another process finished first (the target exists and is not
            # empty); its tables are identical, so keep them.
            if not (target / _COMPLETE_MARKER).is_file():
                raise
    finally:
        if building.exists():
            shutil.rmtree(building, ignore_errors=True)
    return target


def load_tpch(
    cache_dir: Path, scale: float = DEFAULT_SCALE, *, include_orders: bool = True
) -> TpchData:
    """Generate (if needed) and parse the TPC-H tables at ``scale``.

    With ``include_orders=False`` the two largest tables, orders and line
    items, are left empty, which makes loading several times faster for
    callers that only need customers and parts.
    """
    directory = ensure_tpch_csv(cache_dir, scale)
    return TpchData(
        scale=scale,
        nations=_read(directory / "nation.csv", _nation),
        customers=_read(directory / "customer.csv", _customer),
        parts=_read(directory / "part.csv", _part),
        partsupps=_read(directory / "partsupp.csv", _partsupp),
        orders=_read(directory / "orders.csv", _order) if include_orders else (),
        lineitems=(
            _read(directory / "lineitem.csv", _lineitem) if include_orders else ()
        ),
    )


_Row = TypeVar("_Row")


def _read(path: Path, parse: Callable[[dict[str, str]], _Row]) -> tuple[_Row, ...]:
    return tuple(_rows(path, parse))


def _rows(path: Path, parse: Callable[[dict[str, str]], _Row]) -> Iterator[_Row]:
    with path.open(newline="", encoding="utf-8") as stream:
        for number, row in enumerate(csv.DictReader(stream), start=2):
            try:
                yield parse(row)
            except (KeyError, ValueError, ArithmeticError) as exc:
                raise ValueError(f"{path.name} line {number}: {exc}") from exc


def _nation(row: dict[str, str]) -> Nation:
    return Nation(
        nationkey=int(row["n_nationkey"]),
        name=row["n_name"],
        regionkey=int(row["n_regionkey"]),
        comment=row["n_comment"],
    )


def _customer(row: dict[str, str]) -> Customer:
    return Customer(
        custkey=int(row["c_custkey"]),
        name=row["c_name"],
        address=row["c_address"],
        nationkey=int(row["c_nationkey"]),
        phone=row["c_phone"],
        acctbal=Decimal(row["c_acctbal"]),
        mktsegment=row["c_mktsegment"],
        comment=row["c_comment"],
    )


def _part(row: dict[str, str]) -> Part:
    return Part(
        partkey=int(row["p_partkey"]),
        name=row["p_name"],
        mfgr=row["p_mfgr"],
        brand=row["p_brand"],
        type=row["p_type"],
        size=int(row["p_size"]),
        container=row["p_container"],
        retailprice=Decimal(row["p_retailprice"]),
        comment=row["p_comment"],
    )


def _partsupp(row: dict[str, str]) -> PartSupp:
    return PartSupp(
        partkey=int(row["ps_partkey"]),
        suppkey=int(row["ps_suppkey"]),
        availqty=int(row["ps_availqty"]),
        supplycost=Decimal(row["ps_supplycost"]),
        comment=row["ps_comment"],
    )


def _order(row: dict[str, str]) -> Order:
    return Order(
        orderkey=int(row["o_orderkey"]),
        custkey=int(row["o_custkey"]),
        orderstatus=row["o_orderstatus"],
        totalprice=Decimal(row["o_totalprice"]),
        orderdate=dt.date.fromisoformat(row["o_orderdate"]),
        orderpriority=row["o_orderpriority"],
        clerk=row["o_clerk"],
        shippriority=int(row["o_shippriority"]),
        comment=row["o_comment"],
    )


def _lineitem(row: dict[str, str]) -> LineItem:
    return LineItem(
        orderkey=int(row["l_orderkey"]),
        partkey=int(row["l_partkey"]),
        suppkey=int(row["l_suppkey"]),
        linenumber=int(row["l_linenumber"]),
        quantity=Decimal(row["l_quantity"]),
        extendedprice=Decimal(row["l_extendedprice"]),
        discount=Decimal(row["l_discount"]),
        tax=Decimal(row["l_tax"]),
        returnflag=row["l_returnflag"],
        linestatus=row["l_linestatus"],
        shipdate=dt.date.fromisoformat(row["l_shipdate"]),
        commitdate=dt.date.fromisoformat(row["l_commitdate"]),
        receiptdate=dt.date.fromisoformat(row["l_receiptdate"]),
        shipinstruct=row["l_shipinstruct"],
        shipmode=row["l_shipmode"],
        comment=row["l_comment"],
    )
