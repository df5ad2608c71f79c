from decimal import Decimal

import pytest

from domain.accounts.keys import issue_key, parse_key, parse_prefix
from domain.accounts.model import NewAccount
from domain.accounts.scopes import Scope, parse_scopes
from domain.errors import InvalidInputError


def test_a_new_account_is_validated_and_its_name_tidied() -> None:
    new = NewAccount.create(
        name="  Nordwind   Dealer ", timezone="Europe/Berlin", currency="EUR"
    )

    assert new.name == "Nordwind Dealer"


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("timezone", {"timezone": "Mars/Olympus"}),
        ("timezone", {"timezone": "+03:00"}),
        ("currency", {"currency": "EURO"}),
        ("name", {"name": "   "}),
        ("name", {"name": "x" * 201}),
    ],
)
def test_bad_account_fields_are_named(field: str, kwargs: dict[str, str]) -> None:
    values = {"name": "Dealer", "timezone": "UTC", "currency": "EUR", **kwargs}

    with pytest.raises(InvalidInputError) as raised:
        NewAccount.create(
            name=values["name"],
            timezone=values["timezone"],
            currency=values["currency"],
        )

    assert raised.value.field == field


def test_an_issued_key_parses_back_and_matches_only_its_digest() -> None:
    issued, other = issue_key(), issue_key()

    presented = parse_key(issued.token)

    assert presented is not None
    assert presented.prefix == issued.prefix
    assert presented.matches(issued.digest)
    assert not presented.matches(other.digest)


@pytest.mark.parametrize(
    "token",
    ["", "pk_", "Bearer x", "pk_ABCDEFGH_" + "a" * 43, "pk_abcdefgh_short", "x" * 5000],
)
def test_tokens_of_another_shape_are_not_keys(token: str) -> None:
    assert parse_key(token) is None


def test_prefixes_are_accepted_with_or_without_pk() -> None:
    assert parse_prefix("pk_ab12cd34") == "ab12cd34"
    assert parse_prefix("ab12cd34") == "ab12cd34"
    assert parse_prefix("pk_AB12CD34") is None


def test_unknown_scopes_are_listed() -> None:
    with pytest.raises(InvalidInputError, match="orders:delete"):
        parse_scopes(["orders:read", "orders:delete"])

    assert parse_scopes(["orders:read"]) == {Scope.ORDERS_READ}


@pytest.mark.parametrize("threshold", ["-1", "NaN", "1E+400", "123456789012345678901"])
def test_an_approval_threshold_must_fit_an_amount(threshold: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        NewAccount.create(
            name="Dealer",
            timezone="UTC",
            currency="EUR",
            approval_threshold=Decimal(threshold),
        )

    assert raised.value.field == "approval_threshold"
