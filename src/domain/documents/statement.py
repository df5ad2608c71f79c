"""The reconciliation statement: what the customer owed, what happened, what
it owes now, built from the ERP's ledger and checked to the cent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from domain.documents.erp import CustomerLedger, LedgerEntry, LedgerEntryKind
from domain.errors import InvalidInputError
from domain.money import Money

#: A statement longer than this is a report, not a statement.
MAX_STATEMENT_DAYS = 3 * 366


@dataclass(frozen=True, slots=True)
class StatementLine:
    entry: LedgerEntry
    #: The customer's balance after this entry.
    balance: Money


@dataclass(frozen=True, slots=True)
class StatementTotals:
    invoices: Money
    credit_notes: Money
    payments: Money
    adjustments: Money


@dataclass(frozen=True, slots=True)
class Statement:
    """Opening balance, every posting in the period, closing balance.

    Promises ``closing = opening + invoices - credit_notes - payments +
    adjustments`` exactly, where invoices and adjustments count debit minus
    credit and credit notes and payments credit minus debit.
    """

    start: date
    end: date
    opening_balance: Money
    lines: tuple[StatementLine, ...]
    totals: StatementTotals
    closing_balance: Money


def require_period(start: date, end: date) -> None:
    """Refuse a period that ends before it starts or is unreasonably long."""
    if end < start:
        raise InvalidInputError(
            f"the period ends ({end}) before it starts ({start})", field="to"
        )
    if (end - start).days > MAX_STATEMENT_DAYS:
        raise InvalidInputError(
            f"a statement covers at most {MAX_STATEMENT_DAYS} days; ask for "
            "several periods instead",
            field="from",
        )


def build_statement(ledger: CustomerLedger) -> Statement:
    """The statement of ``ledger``, with a running balance per line."""
    currency = ledger.currency
    balance = ledger.opening_balance
    sums = {kind: Decimal(0) for kind in LedgerEntryKind}
    lines = []
    for entry in ledger.entries:
        change = entry.debit - entry.credit
        sums[entry.kind] += change
        balance = balance + Money(change, currency)
        lines.append(StatementLine(entry, balance))
    totals = StatementTotals(
        invoices=Money(sums[LedgerEntryKind.INVOICE], currency),
        credit_notes=Money(-sums[LedgerEntryKind.CREDIT_NOTE], currency),
        payments=Money(-sums[LedgerEntryKind.PAYMENT], currency),
        adjustments=Money(sums[LedgerEntryKind.ADJUSTMENT], currency),
    )
    expected = (
        ledger.opening_balance
        + totals.invoices
        - totals.credit_notes
        - totals.payments
        + totals.adjustments
    )
    # An identity of the sums above; a failure here is a bug, never input.
    assert expected == balance, "statement totals do not add up"
    return Statement(
        start=ledger.start,
        end=ledger.end,
        opening_balance=ledger.opening_balance,
        lines=tuple(lines),
        totals=totals,
        closing_balance=balance,
    )
