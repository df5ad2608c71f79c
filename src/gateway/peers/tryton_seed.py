"""Seed a fresh Tryton database with a company and TPC-H customers and parts.

:func:`seed_tryton` runs over JSON-RPC as the admin user against a database
that ``trytond-admin`` has just initialised with the sale, stock, invoicing,
complaint and opportunity modules. It sets up what invoicing needs (currency,
company, chart of accounts, fiscal years with strict invoice sequences, a
payment term, an accounting product category), then loads every TPC-H
customer as a party and every part as a stocked, salable product. It returns
a :class:`SeedManifest` mapping the TPC-H keys to the Tryton ids, which
tests and the demo use instead of searching.

Seeding is not idempotent: run it exactly once per fresh database.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, TypeVar

from connectors.tryton.rpc import TrytonProtocolError, TrytonRpc
from gateway.peers.tpch import Customer, Part, TpchData

__all__ = [
    "COMPANY_NAME",
    "CURRENCY_CODE",
    "SEED_FORMAT_VERSION",
    "VOLUME_FORMULA",
    "VOLUME_QUANTITY",
    "SeedManifest",
    "SeededCustomer",
    "SeededPart",
    "customer_code",
    "part_code",
    "seed_tryton",
    "stock_quantity",
]

logger = logging.getLogger(__name__)

SEED_FORMAT_VERSION: Final = 1
"""Bump whenever what the seed creates changes, to invalidate old snapshots."""

COMPANY_NAME: Final = "Portico Supplier Inc."
CURRENCY_CODE: Final = "USD"
# Records per create call. On SQLite, Tryton checks that product codes are
# unique with an SQL condition nested one level per product written, which
# overflows SQLite's parser stack somewhere below 100 products per call.
_PARTY_BATCH: Final = 250
_PRODUCT_BATCH: Final = 50
_MOVE_BATCH: Final = 500
# Stock on hand comes from TPC-H's supplier availability, folded into a range
# a portal shows naturally; about 1 part in 200 ends up out of stock, which
# keeps the "not available" path exercised by real data.
_STOCK_MODULO: Final = 200
# Quantity from which the volume price list gives its discount.
VOLUME_QUANTITY: Final = 100.0
VOLUME_FORMULA: Final = "unit_price * 0.95"
# Accounts of the Universal Chart of Accounts by code. The chart has several
# receivable, payable, revenue and expense accounts, so the wizard proposes
# none by itself.
_RECEIVABLE: Final = "1.2.1"  # Accounts, Notes And Loans Receivable
_PAYABLE: Final = "2.1.1"  # Trade Payables
_REVENUE: Final = "4.1.1"  # Revenue recognised at a point in time: Goods
_EXPENSE: Final = "5.1.1"  # Merchandise, Material, Parts And Supplies


def customer_code(custkey: int) -> str:
    """Return the Tryton party code of a TPC-H customer (``TPCH-C000001``)."""
    return f"TPCH-C{custkey:06d}"


def part_code(partkey: int) -> str:
    """Return the Tryton product code (SKU) of a TPC-H part (``P000001``)."""
    return f"P{partkey:06d}"


def stock_quantity(total_availqty: int) -> int:
    """Return the seeded stock of a part from its summed ``ps_availqty``."""
    return total_availqty % _STOCK_MODULO


@dataclass(frozen=True, slots=True)
class SeededCustomer:
    """A TPC-H customer as a Tryton party with one address."""

    party_id: int
    code: str
    address_id: int


@dataclass(frozen=True, slots=True)
class SeededPart:
    """A TPC-H part as a Tryton product, with its list price and stock."""

    product_id: int
    template_id: int
    code: str
    list_price: Decimal
    quantity: int


@dataclass(frozen=True, slots=True)
class SeedManifest:
    """Where the seed put things: Tryton ids keyed by TPC-H keys.

    ``customers`` maps ``c_custkey`` and ``parts`` maps ``p_partkey``.
    Round-trips through :meth:`to_json` / :meth:`from_json`.
    """

    format_version: int
    tryton_version: str
    scale: float
    seeded_on: dt.date
    company_id: int
    company_party_id: int
    currency_id: int
    warehouse_id: int
    storage_location_id: int
    customer_location_id: int
    supplier_location_id: int
    unit_uom_id: int
    product_category_id: int
    payment_term_id: int
    price_list_id: int
    complaint_type_id: int
    fiscal_year_ids: tuple[int, ...]
    customers: dict[int, SeededCustomer]
    parts: dict[int, SeededPart]

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (dict keys become strings)."""
        data = {
            field.name: getattr(self, field.name)
            for field in dataclasses.fields(self)
            if field.name not in {"customers", "parts"}
        }
        data["seeded_on"] = self.seeded_on.isoformat()
        data["fiscal_year_ids"] = list(self.fiscal_year_ids)
        data["customers"] = {
            str(key): dataclasses.asdict(value) for key, value in self.customers.items()
        }
        data["parts"] = {
            str(key): {**dataclasses.asdict(value), "list_price": str(value.list_price)}
            for key, value in self.parts.items()
        }
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SeedManifest:
        """Rebuild a manifest from :meth:`to_json` output.

        Raises:
            KeyError, TypeError, ValueError: ``data`` is not such output.
        """
        plain = {
            field.name: data[field.name]
            for field in dataclasses.fields(cls)
            if field.name not in {"customers", "parts", "seeded_on", "fiscal_year_ids"}
        }
        return cls(
            **plain,
            seeded_on=dt.date.fromisoformat(data["seeded_on"]),
            fiscal_year_ids=tuple(int(i) for i in data["fiscal_year_ids"]),
            customers={
                int(key): SeededCustomer(**value)
                for key, value in data["customers"].items()
            },
            parts={
                int(key): SeededPart(
                    **{**value, "list_price": Decimal(value["list_price"])}
                )
                for key, value in data["parts"].items()
            },
        )

    def write(self, path: Path) -> None:
        """Write the manifest as JSON to ``path``."""
        path.write_text(json.dumps(self.to_json(), indent=1, sort_keys=True) + "\n")

    @classmethod
    def read(cls, path: Path) -> SeedManifest:
        """Read a manifest written by :meth:`write`."""
        loaded = json.loads(path.read_text())
        if not isinstance(loaded, dict):
            raise ValueError(f"{path} does not hold a seed manifest")
        return cls.from_json(loaded)


@dataclass(slots=True)
class _Base:
    currency_id: int = 0
    company_id: int = 0
    company_party_id: int = 0
    receivable_id: int = 0
    payable_id: int = 0
    revenue_id: int = 0
    expense_id: int = 0
    warehouse_id: int = 0
    storage_location_id: int = 0
    customer_location_id: int = 0
    supplier_location_id: int = 0
    lost_found_location_id: int = 0
    unit_uom_id: int = 0
    product_category_id: int = 0
    payment_term_id: int = 0
    price_list_id: int = 0
    complaint_type_id: int = 0
    fiscal_year_ids: list[int] = dataclasses.field(default_factory=list)


async def seed_tryton(
    rpc: TrytonRpc,
    data: TpchData,
    *,
    tryton_version: str,
    today: dt.date | None = None,
) -> SeedManifest:
    """Seed the database behind ``rpc`` (logged in as admin) from ``data``.

    ``today`` (default: the local date) decides the fiscal years: the year
    before, this year and the next two, so invoices can be posted for years
    after the snapshot was made.

    Raises:
        TrytonError: a call failed; the database is then half-seeded and
            must be thrown away.
    """
    today = today or dt.date.today()
    started = time.monotonic()
    base = _Base()
    await _setup_company(rpc, base)
    await _setup_accounting(rpc, base, today)
    await _setup_sales(rpc, base)
    logger.info("Tryton base setup done in %.1f s", time.monotonic() - started)

    mark = time.monotonic()
    customers = await _seed_customers(rpc, data)
    logger.info(
        "Seeded %d TPC-H customers in %.1f s",
        len(customers),
        time.monotonic() - mark,
    )
    mark = time.monotonic()
    parts = await _seed_parts(rpc, base, data, today)
    logger.info(
        "Seeded %d TPC-H parts with stock in %.1f s",
        len(parts),
        time.monotonic() - mark,
    )
    return SeedManifest(
        format_version=SEED_FORMAT_VERSION,
        tryton_version=tryton_version,
        scale=data.scale,
        seeded_on=today,
        company_id=base.company_id,
        company_party_id=base.company_party_id,
        currency_id=base.currency_id,
        warehouse_id=base.warehouse_id,
        storage_location_id=base.storage_location_id,
        customer_location_id=base.customer_location_id,
        supplier_location_id=base.supplier_location_id,
        unit_uom_id=base.unit_uom_id,
        product_category_id=base.product_category_id,
        payment_term_id=base.payment_term_id,
        price_list_id=base.price_list_id,
        complaint_type_id=base.complaint_type_id,
        fiscal_year_ids=tuple(base.fiscal_year_ids),
        customers=customers,
        parts=parts,
    )


async def _setup_company(rpc: TrytonRpc, base: _Base) -> None:
    (base.currency_id,) = await _create(
        rpc,
        "currency.currency",
        [
            {
                "name": "U.S. Dollar",
                "code": CURRENCY_CODE,
                "symbol": "$",
                "numeric_code": "840",
                "rounding": Decimal("0.01"),
                "digits": 2,
            }
        ],
    )
    (base.company_party_id,) = await _create(
        rpc, "party.party", [{"name": COMPANY_NAME}]
    )
    (base.company_id,) = await _create(
        rpc,
        "company.company",
        [{"party": base.company_party_id, "currency": base.currency_id}],
    )
    admin_id = rpc.user_id
    if admin_id is None:
        raise TrytonProtocolError("seeding needs a logged-in session")
    await rpc.model(
        "res.user",
        "write",
        [admin_id],
        {"companies": [["add", [base.company_id]]], "company": base.company_id},
    )
    # Company-dependent values (accounts, prices, sequences) are read and
    # written in the company of the context, so reload it.
    await rpc.context(refresh=True)


async def _setup_accounting(rpc: TrytonRpc, base: _Base, today: dt.date) -> None:
    template_id = await _xml_id(rpc, "account", "account_template_root_en")
    session_id, _, _ = await rpc.wizard("account.create_chart", "create")
    try:
        await rpc.wizard("account.create_chart", "execute", session_id, {}, "account")
        account_form = {"account_template": template_id, "company": base.company_id}
        result = await rpc.wizard(
            "account.create_chart",
            "execute",
            session_id,
            {"account": account_form},
            "create_account",
        )
        if "view" not in result:
            raise TrytonProtocolError("the chart wizard did not ask for properties")
        base.receivable_id = await _account(rpc, base, _RECEIVABLE)
        base.payable_id = await _account(rpc, base, _PAYABLE)
        base.revenue_id = await _account(rpc, base, _REVENUE)
        base.expense_id = await _account(rpc, base, _EXPENSE)
        await rpc.wizard(
            "account.create_chart",
            "execute",
            session_id,
            {
                "account": account_form,
                "properties": {
                    "company": base.company_id,
                    "account_receivable": base.receivable_id,
                    "account_payable": base.payable_id,
                    "category_account_revenue": base.revenue_id,
                    "category_account_expense": base.expense_id,
                },
            },
            "create_properties",
        )
    finally:
        await rpc.wizard("account.create_chart", "delete", session_id)

    move_type = await _xml_id(rpc, "account", "sequence_type_account_move")
    invoice_type = await _xml_id(
        rpc, "account_invoice", "sequence_type_account_invoice"
    )
    for year in range(today.year - 1, today.year + 3):
        move_sequence, invoice_sequence = await _create(
            rpc,
            "ir.sequence.strict",
            [
                {
                    "name": f"Account moves {year}",
                    "sequence_type": move_type,
                    "company": base.company_id,
                    "prefix": f"M{year}-",
                    "padding": 6,
                },
                {
                    "name": f"Invoices {year}",
                    "sequence_type": invoice_type,
                    "company": base.company_id,
                    "prefix": f"INV{year}-",
                    "padding": 6,
                },
            ],
        )
        (fiscal_year,) = await _create(
            rpc,
            "account.fiscalyear",
            [
                {
                    "name": str(year),
                    "start_date": dt.date(year, 1, 1),
                    "end_date": dt.date(year, 12, 31),
                    "company": base.company_id,
                    "move_sequence": move_sequence,
                    "invoice_sequences": [
                        [
                            "create",
                            [
                                {
                                    "company": base.company_id,
                                    "out_invoice_sequence": invoice_sequence,
                                    "out_credit_note_sequence": invoice_sequence,
                                    "in_invoice_sequence": invoice_sequence,
                                    "in_credit_note_sequence": invoice_sequence,
                                }
                            ],
                        ]
                    ],
                }
            ],
        )
        base.fiscal_year_ids.append(fiscal_year)
    await rpc.model("account.fiscalyear", "create_period", base.fiscal_year_ids)

    (base.payment_term_id,) = await _create(
        rpc,
        "account.invoice.payment_term",
        [
            {
                "name": "Net 30",
                "lines": [
                    [
                        "create",
                        [
                            {
                                "type": "remainder",
                                "relativedeltas": [["create", [{"days": 30}]]],
                            }
                        ],
                    ]
                ],
            }
        ],
    )
    await rpc.model(
        "account.configuration",
        "write",
        [1],
        {"default_customer_payment_term": base.payment_term_id},
    )


async def _setup_sales(rpc: TrytonRpc, base: _Base) -> None:
    base.unit_uom_id = await _xml_id(rpc, "product", "uom_unit")
    base.warehouse_id = await _xml_id(rpc, "stock", "location_warehouse")
    base.customer_location_id = await _xml_id(rpc, "stock", "location_customer")
    base.supplier_location_id = await _xml_id(rpc, "stock", "location_supplier")
    base.lost_found_location_id = await _xml_id(rpc, "stock", "location_lost_found")
    (warehouse,) = await rpc.model(
        "stock.location", "read", [base.warehouse_id], ["storage_location"]
    )
    base.storage_location_id = int(warehouse["storage_location"])

    (base.product_category_id,) = await _create(
        rpc,
        "product.category",
        [
            {
                "name": "TPC-H Parts",
                "accounting": True,
                "account_revenue": base.revenue_id,
                "account_expense": base.expense_id,
            }
        ],
    )
    (base.price_list_id,) = await _create(
        rpc,
        "product.price_list",
        [
            {
                "name": "Volume pricing",
                "company": base.company_id,
                "price": "list_price",
                "lines": [
                    [
                        "create",
                        [
                            {"quantity": VOLUME_QUANTITY, "formula": VOLUME_FORMULA},
                            {"formula": "unit_price"},
                        ],
                    ]
                ],
            }
        ],
    )
    # Set before the customers exist: it is the default of new parties.
    await rpc.model(
        "sale.configuration", "write", [1], {"sale_price_list": base.price_list_id}
    )
    sale_model = await rpc.model(
        "ir.model", "search", [["name", "=", "sale.sale"]], 0, 1
    )
    if len(sale_model) != 1:
        raise TrytonProtocolError("ir.model has no sale.sale")
    (base.complaint_type_id,) = await _create(
        rpc,
        "sale.complaint.type",
        [{"name": "Damaged goods", "origin": sale_model[0]}],
    )


async def _seed_customers(rpc: TrytonRpc, data: TpchData) -> dict[int, SeededCustomer]:
    nations = data.nation_names()
    seeded: dict[int, SeededCustomer] = {}
    for batch in _batches(data.customers, _PARTY_BATCH):
        party_ids = await _create(
            rpc, "party.party", [_party_values(c, nations) for c in batch]
        )
        parties = await rpc.model("party.party", "read", party_ids, ["addresses"])
        addresses = {int(p["id"]): int(p["addresses"][0]) for p in parties}
        for customer, party_id in zip(batch, party_ids, strict=True):
            seeded[customer.custkey] = SeededCustomer(
                party_id=party_id,
                code=customer_code(customer.custkey),
                address_id=addresses[party_id],
            )
    return seeded


def _party_values(customer: Customer, nations: dict[int, str]) -> dict[str, Any]:
    return {
        "name": customer.name,
        "code": customer_code(customer.custkey),
        "addresses": [
            [
                "create",
                [
                    {
                        "street": customer.address,
                        # TPC-H has no cities; the nation is the only place.
                        "city": nations[customer.nationkey].title(),
                    }
                ],
            ]
        ],
        "contact_mechanisms": [
            ["create", [{"type": "phone", "value": customer.phone}]]
        ],
    }


async def _seed_parts(
    rpc: TrytonRpc, base: _Base, data: TpchData, today: dt.date
) -> dict[int, SeededPart]:
    costs = data.lowest_supply_cost()
    available = data.available_quantity()
    seeded: dict[int, SeededPart] = {}
    for batch in _batches(data.parts, _PRODUCT_BATCH):
        template_ids = await _create(
            rpc,
            "product.template",
            [_template_values(p, base, costs.get(p.partkey)) for p in batch],
        )
        templates = await rpc.model(
            "product.template", "read", template_ids, ["products"]
        )
        products = {int(t["id"]): int(t["products"][0]) for t in templates}
        for part, template_id in zip(batch, template_ids, strict=True):
            seeded[part.partkey] = SeededPart(
                product_id=products[template_id],
                template_id=template_id,
                code=part_code(part.partkey),
                list_price=part.retailprice,
                quantity=stock_quantity(available.get(part.partkey, 0)),
            )

    # Plain moves from the inventory ("lost and found") location are what
    # confirming an inventory produces, at about half the cost per product.
    moves = [
        {
            "product": part.product_id,
            "quantity": float(part.quantity),
            "unit": base.unit_uom_id,
            "from_location": base.lost_found_location_id,
            "to_location": base.storage_location_id,
            "company": base.company_id,
            "effective_date": today,
        }
        for part in seeded.values()
        if part.quantity > 0
    ]
    for move_batch in _batches(moves, _MOVE_BATCH):
        move_ids = await _create(rpc, "stock.move", move_batch)
        await rpc.model("stock.move", "do", move_ids)
    return seeded


def _template_values(part: Part, base: _Base, cost: Decimal | None) -> dict[str, Any]:
    product: dict[str, Any] = {"description": part.comment}
    if cost is not None:
        product["cost_price"] = cost
    return {
        "name": part.name.title(),
        "code": part_code(part.partkey),
        "type": "goods",
        "default_uom": base.unit_uom_id,
        "salable": True,
        "sale_uom": base.unit_uom_id,
        "list_price": part.retailprice,
        "account_category": base.product_category_id,
        "products": [["create", [product]]],
    }


async def _create(
    rpc: TrytonRpc, model: str, values: Sequence[dict[str, Any]]
) -> list[int]:
    ids = await rpc.model(model, "create", list(values))
    if (
        not isinstance(ids, list)
        or len(ids) != len(values)
        or not all(isinstance(i, int) for i in ids)
    ):
        raise TrytonProtocolError(f"{model}.create did not return ids")
    return ids


async def _xml_id(rpc: TrytonRpc, module: str, fs_id: str) -> int:
    result = await rpc.model("ir.model.data", "get_id", module, fs_id)
    if not isinstance(result, int):
        raise TrytonProtocolError(f"no XML id {module}.{fs_id}")
    return result


async def _account(rpc: TrytonRpc, base: _Base, code: str) -> int:
    found = await rpc.model(
        "account.account",
        "search",
        [["code", "=", code], ["company", "=", base.company_id]],
        0,
        1,
    )
    if len(found) != 1:
        raise TrytonProtocolError(f"the chart of accounts has no account {code}")
    return int(found[0])


_T = TypeVar("_T")


def _batches(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
