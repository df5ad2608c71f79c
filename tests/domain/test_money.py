from decimal import Decimal

import pytest

from domain.errors import InvalidInputError
from domain.money import Money, is_currency_code


def test_sums_in_one_currency_stay_exact() -> None:
    total = Money(Decimal("0.10"), "EUR") + Money(Decimal("0.20"), "EUR")

    assert total == Money(Decimal("0.30"), "EUR")


def test_mixing_currencies_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="cannot combine EUR with USD"):
        _ = Money(Decimal(1), "EUR") + Money(Decimal(1), "USD")


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "-Infinity", "sNaN"])
def test_non_finite_amounts_are_refused(amount: str) -> None:
    with pytest.raises(InvalidInputError, match="finite"):
        Money(Decimal(amount), "EUR")


@pytest.mark.parametrize(
    ("code", "valid"),
    [("EUR", True), ("USD", True), ("eur", False), ("XXQ", False), ("EURO", False)],
)
def test_currency_codes_are_iso_4217(code: str, valid: bool) -> None:
    assert is_currency_code(code) is valid
