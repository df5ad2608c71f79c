"""The reconciliation statement: running balances and totals that add up."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from domain.documents.erp import CustomerLedger, LedgerEntry, LedgerEntryKind
from domain.documents.statement import build_statement, require_period
from domain.errors import InvalidInputError
from domain.money import Money

K = LedgerEntryKind


def entry(kind: LedgerEntryKind, debit: str = "0", credit: str = "0") -> LedgerEntry:
    return LedgerEntry(
        date=date(2026, 11, 5),
        kind=kind,
        reference="x",
        description="",
        debit=Decimal(debit),
        credit=Decimal(credit),
    )


def test_totals_and_running_balance() -> None:
    ledger = CustomerLedger(
        currency="USD",
        start=date(2026, 11, 1),
        end=date(2026, 11, 30),
        opening_balance=Money(Decimal("100.01"), "USD"),
        entries=(
            entry(K.INVOICE, debit="1234567890123456.78"),
            entry(K.CREDIT_NOTE, credit="0.10"),
            entry(K.PAYMENT, credit="99.99"),
            # A refund to the customer counts as a negative payment.
            entry(K.PAYMENT, debit="5.00"),
            entry(K.ADJUSTMENT, credit="0.01"),
        ),
    )

    statement = build_statement(ledger)

    assert statement.totals.invoices.amount == Decimal("1234567890123456.78")
    assert statement.totals.credit_notes.amount == Decimal("0.10")
    assert statement.totals.payments.amount == Decimal("94.99")
    assert statement.totals.adjustments.amount == Decimal("-0.01")
    assert statement.closing_balance.amount == Decimal("1234567890123461.69")
    assert [line.balance.amount for line in statement.lines][-1] == (
        statement.closing_balance.amount
    )


def test_an_empty_period_closes_where_it_opened() -> None:
    ledger = CustomerLedger(
        "USD", date(2026, 1, 1), date(2026, 1, 31), Money(Decimal(-5), "USD"), ()
    )

    statement = build_statement(ledger)

    assert statement.closing_balance == statement.opening_balance
    assert statement.lines == ()


@pytest.mark.parametrize(
    ("start", "end"),
    [(date(2026, 2, 1), date(2026, 1, 31)), (date(2020, 1, 1), date(2026, 1, 1))],
)
def test_periods_must_run_forward_and_stay_reasonable(start: date, end: date) -> None:
    with pytest.raises(InvalidInputError):
        require_period(start, end)
