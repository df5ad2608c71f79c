"""The in-memory side: which route is which capability, and how counts merge."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import CheckConstraint

from gateway.db.tables import Base
from gateway.usage.capabilities import CAPABILITIES, Capability, capability_of
from gateway.usage.recorder import UsageBuffer


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("/v1/orders", Capability.ORDERS),
        ("/v1/orders/{order_id}/cancel", Capability.ORDERS),
        ("/v1/catalog/products/{sku}", Capability.CATALOG),
        ("/v1/events/stream", Capability.EVENTS),
        ("/v1/reports/orders", Capability.REPORTS),
        ("/v1/ordersheet", None),
        ("/v2/orders", None),
        ("/v1/me", None),
        ("/v1/admin/usage", None),
        ("/healthz", None),
        ("/", None),
        (None, None),
    ],
)
def test_a_route_template_names_its_capability(
    template: str | None, expected: Capability | None
) -> None:
    assert capability_of(template) is expected


def test_the_table_accepts_exactly_the_capabilities() -> None:
    (check,) = [
        constraint
        for constraint in Base.metadata.tables["usage_counters"].constraints
        if isinstance(constraint, CheckConstraint)
    ]
    listed = str(check.sqltext)

    assert all(f"'{capability.value}'" in listed for capability in CAPABILITIES)
    assert listed.count("'") == 2 * len(CAPABILITIES)


def test_counts_merge_by_account_and_capability() -> None:
    clock = iter([10.0, 20.0, 30.0, 5.0, 40.0])
    buffer = UsageBuffer(clock=lambda: next(clock))
    account = uuid.uuid4()
    buffer.record(account, Capability.ORDERS, 200)
    buffer.record(account, Capability.ORDERS, 404)
    buffer.record(account, Capability.CLAIMS, 503)
    taken = buffer.drain()

    # Counted while the flush of ``taken`` was failing:
    buffer.record(account, Capability.ORDERS, 201)
    buffer.record(uuid.uuid4(), Capability.ORDERS, 200)
    buffer.restore(taken)

    orders = buffer.drain()[(account, Capability.ORDERS)]
    assert (orders.requests, orders.client_errors, orders.server_errors) == (3, 1, 0)
    assert (orders.first_used_at, orders.last_used_at) == (5.0, 20.0)
    assert taken[(account, Capability.CLAIMS)].server_errors == 1
    assert len(buffer) == 0
