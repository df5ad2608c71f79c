"""Money: a decimal amount and an ISO 4217 currency, never a float."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from iso4217 import Currency

from domain.errors import InvalidInputError

#: The largest magnitude Portico stores: NUMERIC(20, 4) in PostgreSQL.
MAX_AMOUNT_DIGITS: Final = 20
AMOUNT_SCALE: Final = 4


def fits_amount(amount: Decimal) -> bool:
    """Whether ``amount`` is a finite, non-negative value NUMERIC(20, 4) holds
    without losing digits."""
    if not amount.is_finite() or amount < 0:
        return False
    exponent = amount.as_tuple().exponent
    assert isinstance(exponent, int)
    return amount < Decimal(10) ** (MAX_AMOUNT_DIGITS - AMOUNT_SCALE) and (
        exponent >= -AMOUNT_SCALE or amount == amount.quantize(Decimal(1).scaleb(-4))
    )


def is_currency_code(code: str) -> bool:
    """Whether ``code`` is an ISO 4217 alphabetic code such as ``EUR``."""
    if len(code) != 3 or not code.isascii() or not code.isupper():
        return False
    try:
        Currency(code)
    except ValueError:
        return False
    return True


def minor_units(code: str) -> int:
    """Digits after the decimal point in ``code``'s usual notation (JPY 0, EUR 2).

    Codes without minor units (gold, SDR) are shown with 2, like most money.
    """
    exponent = Currency(code).exponent
    return 2 if exponent is None else int(exponent)


def format_amount(amount: Decimal, currency: str) -> str:
    """The amount as a plain decimal string with at least the currency's minor
    units, keeping any finer digits a unit price carries: EUR 0.1 -> "0.10",
    EUR 10.1250 -> "10.125", JPY 500.0000 -> "500". Never exponent notation."""
    places = minor_units(currency)
    quantum = Decimal(1).scaleb(-places)
    rounded = amount.quantize(quantum)
    if rounded == amount:
        return f"{rounded:f}"
    return f"{amount.normalize():f}"


def require_currency_code(code: str) -> str:
    """Return ``code`` if it is an ISO 4217 code, else raise InvalidInputError."""
    if not is_currency_code(code):
        raise InvalidInputError(
            f"'{code[:8]}' is not an ISO 4217 currency code such as 'EUR'",
            field="currency",
        )
    return code


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount in one currency.

    Arithmetic refuses to mix currencies: adding EUR to USD is a bug, not a
    conversion.
    """

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        require_currency_code(self.currency)
        if not self.amount.is_finite():
            raise InvalidInputError("an amount must be a finite number", field="amount")

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    def __add__(self, other: Money) -> Money:
        self._require_same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._require_same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, factor: int | Decimal) -> Money:
        return Money(self.amount * factor, self.currency)

    def _require_same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise InvalidInputError(
                f"cannot combine {self.currency} with {other.currency}",
                field="currency",
            )
