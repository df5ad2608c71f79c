"""The order status machine: every move of the table, allowed or refused.

The expected table is written out here by hand rather than read from
``TRANSITIONS``, so that a changed row in the code fails a test.
"""

from __future__ import annotations

import itertools

import pytest

from domain.errors import ConflictError
from domain.orders.status import (
    TERMINAL,
    OrderStateError,
    OrderStatus,
    can_move,
    require_move,
)

S = OrderStatus

ALLOWED: dict[OrderStatus, set[OrderStatus]] = {
    S.PENDING_APPROVAL: {S.SUBMITTED, S.REJECTED, S.CANCELLED},
    S.SUBMITTED: {
        S.PENDING_APPROVAL,
        S.REJECTED,
        S.CANCELLED,
        S.ACCEPTED,
        S.IN_FULFILMENT,
        S.SHIPPED,
        S.DELIVERED,
        S.INVOICED,
    },
    S.ACCEPTED: {S.IN_FULFILMENT, S.SHIPPED, S.DELIVERED, S.INVOICED, S.CANCELLED},
    S.IN_FULFILMENT: {S.SHIPPED, S.DELIVERED, S.INVOICED, S.CANCELLED},
    S.SHIPPED: {S.DELIVERED, S.INVOICED},
    S.DELIVERED: {S.INVOICED},
    S.INVOICED: set(),
    S.REJECTED: set(),
    S.CANCELLED: set(),
}

RETURN_INSTEAD = "file a return claim instead"
REASONS: dict[tuple[OrderStatus, OrderStatus], str] = {
    (S.SHIPPED, S.CANCELLED): RETURN_INSTEAD,
    (S.DELIVERED, S.CANCELLED): RETURN_INSTEAD,
    (S.INVOICED, S.CANCELLED): RETURN_INSTEAD,
    (S.REJECTED, S.CANCELLED): "the ERP never took it, so there is nothing to cancel",
    (S.SUBMITTED, S.SUBMITTED): "it did not need approval",
}

MOVES = list(itertools.product(OrderStatus, repeat=2))
ALLOWED_MOVES = [(a, b) for a, b in MOVES if b in ALLOWED[a]]
REFUSED_MOVES = [(a, b) for a, b in MOVES if b not in ALLOWED[a]]


def move_id(move: tuple[OrderStatus, OrderStatus]) -> str:
    return f"{move[0].value}->{move[1].value}"


def test_the_expected_table_covers_every_status() -> None:
    assert set(ALLOWED) == set(OrderStatus)
    assert len(ALLOWED_MOVES) + len(REFUSED_MOVES) == len(OrderStatus) ** 2
    assert set(REASONS) <= set(REFUSED_MOVES)


@pytest.mark.parametrize("move", ALLOWED_MOVES, ids=move_id)
def test_an_allowed_move_is_accepted(move: tuple[OrderStatus, OrderStatus]) -> None:
    current, target = move

    require_move(current, target, f"moved to {target.value}")

    assert can_move(current, target)


@pytest.mark.parametrize("move", REFUSED_MOVES, ids=move_id)
def test_an_illegal_move_is_refused_with_its_reason(
    move: tuple[OrderStatus, OrderStatus],
) -> None:
    current, target = move
    action = f"moved to {target.value}"

    with pytest.raises(OrderStateError) as refused:
        require_move(current, target, action)

    detail = f"the order is {current.value}, so it cannot be {action}"
    reason = REASONS.get(move)
    assert str(refused.value) == (f"{detail}: {reason}" if reason else detail)
    assert (refused.value.current, refused.value.target) == move
    assert isinstance(refused.value, ConflictError), "it becomes a 409"
    assert not can_move(current, target)


def test_the_terminal_statuses_are_exactly_the_ends_of_the_table() -> None:
    assert {S.INVOICED, S.REJECTED, S.CANCELLED} == TERMINAL
