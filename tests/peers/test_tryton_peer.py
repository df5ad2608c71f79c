"""The seeded Tryton peer: what it holds and the sale flow it supports.

The sale and complaint tests double as the reference for the shape of those
calls over JSON-RPC: which fields a sale needs, which buttons move it on and
what Tryton creates when it does.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from connectors.tryton.rpc import TrytonRpc, TrytonUserError
from gateway.peers.tpch import load_tpch
from gateway.peers.tryton import TrytonPeer
from gateway.peers.tryton_seed import (
    VOLUME_QUANTITY,
    SeedManifest,
    customer_code,
    part_code,
    stock_quantity,
)
from tests.peers.fixtures import peer_cache_dir


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def sale_values(
    peer: TrytonPeer, custkey: int, lines: list[tuple[int, float]], reference: str
) -> dict[str, object]:
    """A sale of ``lines`` (TPC-H part key, quantity) at list price."""
    manifest = peer.manifest
    customer = manifest.customers[custkey]
    return {
        "party": customer.party_id,
        # Tryton refuses to quote a sale without both addresses.
        "invoice_address": customer.address_id,
        "shipment_address": customer.address_id,
        "reference": reference,
        "lines": [
            [
                "create",
                [
                    {
                        "type": "line",
                        "product": manifest.parts[partkey].product_id,
                        "quantity": quantity,
                        "unit": manifest.unit_uom_id,
                        # Not computed on create over RPC: the client sends it.
                        "unit_price": manifest.parts[partkey].list_price,
                    }
                    for partkey, quantity in lines
                ],
            ]
        ],
    }


@pytest.mark.tryton
async def test_the_peer_runs_on_loopback_with_a_complete_manifest(
    tryton_peer: TrytonPeer,
) -> None:
    manifest = tryton_peer.manifest

    assert tryton_peer.url.startswith("http://127.0.0.1:")
    assert tryton_peer.pid is not None
    assert process_exists(tryton_peer.pid)
    assert len(manifest.customers) == 1500
    assert len(manifest.parts) == 2000
    assert manifest.customers[1500].code == customer_code(1500) == "TPCH-C001500"
    assert manifest.parts[2000].code == part_code(2000) == "P002000"
    assert manifest.scale == tryton_peer.scale
    snapshot = tryton_peer.snapshot_dir
    assert {"admin-password", "database.sqlite", "manifest.json"} <= {
        path.name for path in snapshot.iterdir()
    }
    assert stat.S_IMODE((snapshot / "admin-password").stat().st_mode) == 0o600
    assert SeedManifest.read(snapshot / "manifest.json") == manifest


@pytest.mark.tryton
async def test_parts_are_stocked_from_tpch_availability(
    tryton_peer: TrytonPeer, tryton_rpc: TrytonRpc
) -> None:
    manifest = tryton_peer.manifest
    tpch = load_tpch(peer_cache_dir(), tryton_peer.scale, include_orders=False)
    available = tpch.available_quantity()
    partkeys = [2, 3, 500, 2000]
    context = await tryton_rpc.context()
    context["locations"] = [manifest.warehouse_id]

    rows = await tryton_rpc.call(
        "model.product.product.read",
        [[manifest.parts[k].product_id for k in partkeys], ["quantity"], context],
    )

    quantities = {row["id"]: row["quantity"] for row in rows}
    for partkey in partkeys:
        expected = stock_quantity(available[partkey])
        assert manifest.parts[partkey].quantity == expected
        assert quantities[manifest.parts[partkey].product_id] == expected


@pytest.mark.tryton
async def test_the_volume_price_list_discounts_large_quantities(
    tryton_peer: TrytonPeer, tryton_rpc: TrytonRpc
) -> None:
    manifest = tryton_peer.manifest
    part = manifest.parts[1]
    prices = []
    for quantity in (1.0, VOLUME_QUANTITY):
        context = await tryton_rpc.context()
        context.update(price_list=manifest.price_list_id, quantity=quantity)
        (row,) = await tryton_rpc.call(
            "model.product.product.read",
            [[part.product_id], ["sale_price_uom"], context],
        )
        prices.append(row["sale_price_uom"])

    assert prices == [Decimal("901.0000"), Decimal("855.9500")]
    assert part.list_price == Decimal("901.00")


@pytest.mark.tryton
async def test_a_sale_is_quoted_confirmed_and_processed(
    tryton_peer: TrytonPeer, tryton_rpc: TrytonRpc
) -> None:
    manifest = tryton_peer.manifest
    (sale_id,) = await tryton_rpc.model(
        "sale.sale",
        "create",
        [sale_values(tryton_peer, 7, [(1, 3.0), (2, 1.0)], "PO-QUOTE-CONFIRM")],
    )

    (draft,) = await tryton_rpc.model(
        "sale.sale",
        "read",
        [sale_id],
        ["state", "number", "total_amount", "company", "currency", "payment_term"],
    )
    assert draft["state"] == "draft"
    assert draft["number"] is None
    assert draft["total_amount"] == Decimal("2703.00") + Decimal("902.00")
    assert draft["company"] == manifest.company_id
    assert draft["currency"] == manifest.currency_id
    assert draft["payment_term"] == manifest.payment_term_id

    await tryton_rpc.model("sale.sale", "quote", [sale_id])
    (quoted,) = await tryton_rpc.model(
        "sale.sale", "read", [sale_id], ["state", "number", "quotation_date"]
    )
    assert quoted["state"] == "quotation"
    assert quoted["number"]
    assert isinstance(quoted["quotation_date"], dt.date)

    # Confirming queues "process"; with no worker configured Tryton runs it
    # right after the call commits, so the sale comes back processing.
    await tryton_rpc.model("sale.sale", "confirm", [sale_id])
    (sale,) = await tryton_rpc.model(
        "sale.sale",
        "read",
        [sale_id],
        ["state", "invoice_state", "shipment_state", "invoices", "shipments"],
    )
    assert sale["state"] == "processing"
    assert sale["invoice_state"] == "pending"
    assert sale["shipment_state"] == "waiting"

    (invoice,) = await tryton_rpc.model(
        "account.invoice",
        "read",
        sale["invoices"],
        ["state", "type", "party", "total_amount", "payment_term"],
    )
    assert invoice["state"] == "draft"
    assert invoice["type"] == "out"
    assert invoice["party"] == manifest.customers[7].party_id
    assert invoice["total_amount"] == Decimal("3605.00")
    assert invoice["payment_term"] == manifest.payment_term_id

    # The seeded fiscal years and strict sequences let the invoice be posted.
    await tryton_rpc.model("account.invoice", "post", sale["invoices"])
    (posted,) = await tryton_rpc.model(
        "account.invoice", "read", sale["invoices"], ["state", "number", "move"]
    )
    assert posted["state"] == "posted"
    assert posted["number"].startswith(f"INV{dt.date.today().year}-")
    assert posted["move"] is not None

    (shipment,) = await tryton_rpc.model(
        "stock.shipment.out", "read", sale["shipments"], ["state", "warehouse"]
    )
    assert shipment == {
        "id": sale["shipments"][0],
        "state": "waiting",
        "warehouse": manifest.warehouse_id,
    }


@pytest.mark.tryton
async def test_a_sale_without_addresses_cannot_be_quoted(
    tryton_peer: TrytonPeer, tryton_rpc: TrytonRpc
) -> None:
    values = sale_values(tryton_peer, 8, [(3, 1.0)], "PO-NO-ADDRESS")
    values["invoice_address"] = None
    values["shipment_address"] = None
    (sale_id,) = await tryton_rpc.model("sale.sale", "create", [values])

    with pytest.raises(TrytonUserError, match="address"):
        await tryton_rpc.model("sale.sale", "quote", [sale_id])


@pytest.mark.tryton
async def test_a_complaint_is_filed_against_a_sale(
    tryton_peer: TrytonPeer, tryton_rpc: TrytonRpc
) -> None:
    manifest = tryton_peer.manifest
    (sale_id,) = await tryton_rpc.model(
        "sale.sale",
        "create",
        [sale_values(tryton_peer, 9, [(4, 2.0)], "PO-COMPLAINT")],
    )
    await tryton_rpc.model("sale.sale", "quote", [sale_id])
    await tryton_rpc.model("sale.sale", "confirm", [sale_id])

    (complaint_id,) = await tryton_rpc.model(
        "sale.complaint",
        "create",
        [
            {
                "customer": manifest.customers[9].party_id,
                "type": manifest.complaint_type_id,
                "origin": f"sale.sale,{sale_id}",
                "reference": "RMA-1",
                "description": "Two units arrived dented.",
            }
        ],
    )
    await tryton_rpc.model("sale.complaint", "wait", [complaint_id])

    (complaint,) = await tryton_rpc.model(
        "sale.complaint",
        "read",
        [complaint_id],
        ["state", "number", "origin", "customer", "company"],
    )
    assert complaint["state"] == "waiting"
    assert complaint["number"]
    assert complaint["origin"] == f"sale.sale,{sale_id}"
    assert complaint["customer"] == manifest.customers[9].party_id
    assert complaint["company"] == manifest.company_id


@pytest.mark.tryton
async def test_each_peer_starts_from_the_snapshot_and_stops_by_pid(
    tryton_peer: TrytonPeer, tryton_rpc: TrytonRpc
) -> None:
    await tryton_rpc.model(
        "party.party", "create", [{"name": "Only in the first peer", "code": "ONLY-1"}]
    )

    async with TrytonPeer(peer_cache_dir(), scale=tryton_peer.scale) as second:
        pid = second.pid
        assert pid is not None
        assert second.url != tryton_peer.url
        async with httpx.AsyncClient(base_url=second.url) as http:
            rpc = TrytonRpc(
                http, second.database, second.admin_login, second.admin_password
            )
            found = await rpc.model(
                "party.party", "search_count", [["code", "=", "ONLY-1"]]
            )
            await rpc.logout()

    assert found == 0
    assert second.pid is None
    assert not process_exists(pid)


def test_tpch_tables_parse_into_typed_rows() -> None:
    tpch = load_tpch(peer_cache_dir(), 0.01)

    assert len(tpch.nations) == 25
    assert len(tpch.customers) == 1500
    assert len(tpch.parts) == 2000
    assert len(tpch.partsupps) == 8000
    assert len(tpch.orders) == 15000
    assert len(tpch.lineitems) > 60000
    first = tpch.lineitems[0]
    assert isinstance(first.extendedprice, Decimal)
    assert isinstance(first.shipdate, dt.date)
    assert tpch.customers[0].address == "IVhzIApeRb ot,c,E"
    assert tpch.parts[0].retailprice == Decimal("901.00")
    assert tpch.nation_names()[0] == "ALGERIA"


@pytest.mark.tryton
def test_the_manifest_survives_json(tmp_path: Path, tryton_peer: TrytonPeer) -> None:
    path = tmp_path / "manifest.json"

    tryton_peer.manifest.write(path)

    assert SeedManifest.read(path) == tryton_peer.manifest
