"""Which TPC-H orders the demo replays."""

from __future__ import annotations

import pytest

from gateway.demo.plan import plan_replay
from gateway.peers.tpch import load_tpch
from gateway.peers.tryton import TrytonPeer
from tests.peers.fixtures import TEST_SCALE, peer_cache_dir

pytestmark = pytest.mark.tryton


def test_orders_listing_a_part_twice_are_left_out_and_named(
    tryton_peer: TrytonPeer,
) -> None:
    tpch = load_tpch(peer_cache_dir(), TEST_SCALE)
    parts_of: dict[int, list[int]] = {}
    for item in tpch.lineitems:
        parts_of.setdefault(item.orderkey, []).append(item.partkey)
    repeating = {key for key, parts in parts_of.items() if len(set(parts)) < len(parts)}
    known = sorted(
        order.orderkey
        for order in tpch.orders
        if order.custkey in tryton_peer.manifest.customers
    )

    plan = plan_replay(tpch, tryton_peer.manifest, 300)

    replayed = [order.orderkey for order in plan.orders]
    assert len(replayed) == 300
    assert plan.left_out, "the first 300 orders hold one that lists a part twice"
    assert set(plan.left_out) <= repeating
    assert not set(replayed) & repeating
    # Nothing else is skipped: the slice is the first orders Portico can take.
    assert sorted([*replayed, *plan.left_out]) == [
        key for key in known if key <= replayed[-1]
    ]
    for order in plan.orders:
        skus = [line.sku for line in order.lines]
        assert len(set(skus)) == len(skus)
