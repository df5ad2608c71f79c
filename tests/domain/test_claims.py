"""Claim rules: the status machine as data, working-hour deadlines in the
account's zone, and what an order line can still be claimed for."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest

from domain.claims.claimable import (
    CLAIMABLE_ORDER_STATUSES,
    NOT_CLAIMABLE_BECAUSE,
    OrderLineBalance,
    OrderNotClaimableError,
    claim_lines,
    require_claimable_order,
)
from domain.claims.model import (
    ClaimReason,
    ClaimType,
    RequestedClaimLine,
    SlaClock,
    require_comment,
    require_room_for_file,
    validate_request,
)
from domain.claims.sla import SERVICE_LEVELS, add_working_hours, due_times
from domain.claims.status import (
    TERMINAL,
    TRANSITIONS,
    ClaimStateError,
    ClaimStatus,
    can_move,
    require_move,
    require_open_thread,
)
from domain.errors import ConflictError, InvalidInputError
from domain.orders.status import OrderStatus

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")
S = ClaimStatus


def test_every_status_has_a_row_and_terminal_ones_go_nowhere() -> None:
    assert set(TRANSITIONS) == set(ClaimStatus)
    assert {S.CLOSED, S.WITHDRAWN} == TERMINAL
    assert all(not can_move(status, target) for status in TERMINAL for target in S)


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        (S.SUBMITTED, S.IN_REVIEW, True),
        (S.IN_REVIEW, S.AWAITING_CUSTOMER, True),
        (S.AWAITING_CUSTOMER, S.IN_REVIEW, True),
        (S.IN_REVIEW, S.RESOLVED, True),
        (S.APPROVED, S.RESOLVED, True),
        (S.REJECTED, S.IN_REVIEW, True),
        (S.IN_REVIEW, S.WITHDRAWN, True),
        (S.APPROVED, S.WITHDRAWN, False),
        (S.RESOLVED, S.IN_REVIEW, False),
        (S.APPROVED, S.REJECTED, False),
        (S.CLOSED, S.IN_REVIEW, False),
    ],
)
def test_transitions(current: ClaimStatus, target: ClaimStatus, allowed: bool) -> None:
    assert can_move(current, target) is allowed


def test_a_refused_move_says_why() -> None:
    with pytest.raises(ClaimStateError) as refused:
        require_move(S.APPROVED, S.WITHDRAWN, "withdrawn")

    assert str(refused.value) == (
        "the claim is approved, so it cannot be withdrawn: "
        "the supplier has already approved it"
    )


def test_a_closed_thread_takes_no_comments() -> None:
    require_open_thread(S.AWAITING_CUSTOMER, "commented on")

    with pytest.raises(ConflictError, match="withdrawn"):
        require_open_thread(S.WITHDRAWN, "commented on")


def test_a_claim_filed_on_friday_evening_is_due_after_the_weekend() -> None:
    friday_evening = datetime(2026, 11, 27, 18, 0, tzinfo=BERLIN)

    due = due_times(ClaimType.COMPLAINT, friday_evening, BERLIN)

    assert due.first_answer_due_at == datetime(2026, 11, 30, 18, 0, tzinfo=BERLIN)
    # 120 working hours: five working days on, skipping one weekend.
    assert due.resolution_due_at == datetime(2026, 12, 4, 18, 0, tzinfo=BERLIN)


def test_the_same_instant_is_due_differently_in_another_zone() -> None:
    # Friday 18:00 in Berlin is Saturday 02:00 in Tokyo: the clock starts Monday.
    filed = datetime(2026, 11, 27, 17, 0, tzinfo=UTC)

    due = add_working_hours(filed, 24, TOKYO)

    assert due == datetime(2026, 12, 1, 0, 0, tzinfo=TOKYO)
    assert add_working_hours(filed, 24, BERLIN) != due


def test_working_hours_are_real_hours_across_a_daylight_saving_change() -> None:
    # Sunday 2026-03-29 is the spring change in Berlin (and not a working day);
    # the autumn change is Sunday 2026-10-25. Monday to Tuesday is 24 h either way.
    monday = datetime(2026, 3, 30, 9, 0, tzinfo=BERLIN)
    before_autumn = datetime(2026, 10, 23, 12, 0, tzinfo=BERLIN)  # a Friday

    assert add_working_hours(monday, 24, BERLIN) == datetime(
        2026, 3, 31, 9, 0, tzinfo=BERLIN
    )
    # The 25-hour Sunday is skipped whole: Monday noon, not 11:00 or 13:00.
    assert add_working_hours(before_autumn, 24, BERLIN) == datetime(
        2026, 10, 26, 12, 0, tzinfo=BERLIN
    )


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        add_working_hours(datetime(2026, 1, 1), 1, BERLIN)


def test_every_claim_type_has_a_service_level() -> None:
    assert set(SERVICE_LEVELS) == set(ClaimType)
    assert all(
        level.first_answer_hours < level.resolution_hours
        for level in SERVICE_LEVELS.values()
    )


def test_breaches_are_seen_while_open_and_after_settling() -> None:
    due = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    open_clock = SlaClock(due, due + timedelta(days=5), None, None)
    answered_late = SlaClock(
        due, due + timedelta(days=5), due + timedelta(hours=1), None
    )
    settled_in_time = SlaClock(
        due, due + timedelta(days=5), None, due - timedelta(hours=1)
    )

    assert open_clock.first_answer_breached(due - timedelta(minutes=1)) is False
    assert open_clock.first_answer_breached(due + timedelta(minutes=1)) is True
    assert answered_late.first_answer_breached(due - timedelta(days=1)) is True
    assert settled_in_time.first_answer_breached(due + timedelta(days=30)) is False
    assert settled_in_time.resolution_breached(due + timedelta(days=30)) is False
    assert open_clock.resolution_breached(due + timedelta(days=6)) is True


def balance(
    line_no: int, ordered: int, delivered: int | None, claimed: int = 0
) -> OrderLineBalance:
    return OrderLineBalance(line_no, f"P{line_no}", ordered, delivered, claimed)


def test_claimable_is_delivered_or_ordered_minus_earlier_claims() -> None:
    assert balance(1, 10, 6).claimable == 6
    assert balance(1, 10, None).claimable == 10
    assert balance(1, 10, 0).claimable == 10
    assert balance(1, 10, 6, claimed=4).claimable == 2
    assert balance(1, 10, 6, claimed=9).claimable == 0


def test_a_line_over_its_limit_is_named_with_the_limit() -> None:
    balances = {1: balance(1, 10, 6, claimed=1), 2: balance(2, 3, None)}
    requested = [
        RequestedClaimLine(2, 3, ClaimReason.MISSING),
        RequestedClaimLine(1, 6, ClaimReason.DAMAGED),
    ]

    with pytest.raises(InvalidInputError) as refused:
        claim_lines(requested, balances)

    assert refused.value.field == "lines[1].quantity"
    assert "at most 5 of order line 1 (P1)" in refused.value.detail
    assert "6 delivered, 1 already claimed" in refused.value.detail


def test_claim_lines_take_the_order_lines_sku() -> None:
    lines = claim_lines(
        [RequestedClaimLine(2, 1, ClaimReason.WRONG_ITEM, "blue, not red")],
        {2: balance(2, 3, 3)},
    )

    assert [(line.line_no, line.sku, line.note) for line in lines] == [
        (1, "P2", "blue, not red")
    ]


@pytest.mark.parametrize(
    ("description", "lines", "field"),
    [
        ("  ", [RequestedClaimLine(1, 1, ClaimReason.OTHER)], "description"),
        ("x", [], "lines"),
        ("x", [RequestedClaimLine(1, 0, ClaimReason.OTHER)], "lines[0].quantity"),
        (
            "x",
            [
                RequestedClaimLine(1, 1, ClaimReason.OTHER),
                RequestedClaimLine(1, 2, ClaimReason.OTHER),
            ],
            "lines[1].order_line_no",
        ),
    ],
)
def test_requests_are_checked_line_by_line(
    description: str, lines: list[RequestedClaimLine], field: str
) -> None:
    with pytest.raises(InvalidInputError) as refused:
        validate_request(description, lines)

    assert refused.value.field == field


def test_comments_are_trimmed_and_never_empty() -> None:
    assert require_comment("  thanks \n") == "thanks"
    with pytest.raises(InvalidInputError):
        require_comment(" \n ")


@pytest.mark.parametrize(
    "status",
    [
        OrderStatus.ACCEPTED,
        OrderStatus.IN_FULFILMENT,
        OrderStatus.SHIPPED,
        OrderStatus.DELIVERED,
        OrderStatus.INVOICED,
    ],
)
def test_orders_the_erp_accepted_can_be_claimed_against(status: OrderStatus) -> None:
    require_claimable_order(status)


@pytest.mark.parametrize(
    "status",
    [
        OrderStatus.PENDING_APPROVAL,
        OrderStatus.SUBMITTED,
        OrderStatus.REJECTED,
        OrderStatus.CANCELLED,
    ],
)
def test_orders_the_erp_never_accepted_are_a_conflict_naming_their_state(
    status: OrderStatus,
) -> None:
    with pytest.raises(OrderNotClaimableError) as refused:
        require_claimable_order(status)

    assert isinstance(refused.value, ConflictError)
    assert refused.value.order_status is status
    assert refused.value.detail == (
        f"the order is {status.value}, so no claim can be filed against it: "
        f"{NOT_CLAIMABLE_BECAUSE[status]}"
    )


def test_every_order_status_is_claimable_or_says_why_not() -> None:
    assert CLAIMABLE_ORDER_STATUSES.isdisjoint(NOT_CLAIMABLE_BECAUSE)
    assert CLAIMABLE_ORDER_STATUSES | set(NOT_CLAIMABLE_BECAUSE) == set(OrderStatus)


def test_a_claim_takes_files_up_to_its_limit() -> None:
    require_room_for_file(49, 50)

    with pytest.raises(ConflictError) as refused:
        require_room_for_file(50, 50)

    assert refused.value.detail == "a claim carries at most 50 files"
