"""Field types every API model uses for money and time.

Money travels as a decimal string: JSON numbers become binary floats in most
clients, and ``0.10`` must arrive as ``"0.10"``. Times must carry an offset:
a naive timestamp is ambiguous across an account's time zone and DST.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    Field,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
    field_serializer,
)

from domain.money import Money, format_amount, is_currency_code

#: Up to 16 integer and 4 fractional digits: what NUMERIC(20, 4) holds.
AMOUNT_PATTERN = r"^-?(0|[1-9][0-9]{0,15})(\.[0-9]{1,4})?$"
_AMOUNT = re.compile(AMOUNT_PATTERN)


def _parse_amount(value: Any) -> Decimal:
    if isinstance(value, Decimal) and value.is_finite():
        return value
    if not isinstance(value, str) or not _AMOUNT.fullmatch(value):
        raise ValueError(
            'an amount is a decimal string such as "10.50", with at most 16 '
            "digits before the point and 4 after"
        )
    return Decimal(value)


def _parse_currency(value: Any) -> str:
    if not isinstance(value, str) or not is_currency_code(value):
        raise ValueError("a currency is an ISO 4217 code such as 'EUR'")
    return value


Amount = Annotated[
    Decimal,
    PlainValidator(_parse_amount),
    PlainSerializer(lambda value: f"{value:f}", return_type=str),
    WithJsonSchema(
        {"type": "string", "pattern": AMOUNT_PATTERN, "examples": ["10.50"]}
    ),
]

CurrencyCode = Annotated[
    str,
    PlainValidator(_parse_currency),
    WithJsonSchema({"type": "string", "pattern": "^[A-Z]{3}$", "examples": ["EUR"]}),
]


class MoneyModel(BaseModel):
    """An exact amount and its ISO 4217 currency."""

    amount: Amount = Field(description="Decimal string; never a JSON number.")
    currency: CurrencyCode

    @field_serializer("amount")
    def _amount_in_minor_units(self, amount: Decimal) -> str:
        # The currency's usual notation: "0.10", not "0.1000" as NUMERIC keeps it.
        return format_amount(amount, self.currency)

    @classmethod
    def of(cls, money: Money) -> MoneyModel:
        return cls(amount=money.amount, currency=money.currency)

    def to_money(self) -> Money:
        return Money(self.amount, self.currency)


#: A timestamp with an explicit offset; naive ones are refused with a 422.
#: Bounded like FilterDate: at the ends of the calendar an offset pushes the
#: instant past what PostgreSQL and Python's datetime hold.
Timestamp = Annotated[
    AwareDatetime,
    Field(
        ge=datetime(1900, 1, 1, tzinfo=UTC),
        le=datetime(9998, 12, 31, tzinfo=UTC),
        examples=["2025-03-30T01:30:00+03:00"],
    ),
]


#: A product's SKU as the API accepts it: what every backend can store.
Sku = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$",
        examples=["P000042"],
    ),
]


_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def _calendar_date_only(value: Any) -> Any:
    """Refuse a timestamp where a calendar date is meant (case C04).

    Left to itself pydantic reads a midnight timestamp, with any offset or
    none, and a Unix time as a date, dropping the offset: 00:00+09:00 would
    silently become that day in the account's zone, hours away from the
    instant the client meant.
    """
    if (
        isinstance(value, datetime)
        or (isinstance(value, int | float) and not isinstance(value, bool))
        or (isinstance(value, str) and not _ISO_DATE.fullmatch(value))
    ):
        raise ValueError(
            "a calendar date such as 2025-03-30 (YYYY-MM-DD), in the account's "
            "time zone; not a timestamp"
        )
    return value


#: Calendar dates a filter may name: far enough for any business, and clear of
#: the ends of the calendar, where shifting by a day or a time zone overflows.
#: Only a plain date is taken, never a timestamp cut down to one.
FilterDate = Annotated[
    date,
    Field(ge=date(1900, 1, 1), le=date(9998, 12, 31)),
    # After the Field, so that the published schema stays a plain date.
    BeforeValidator(_calendar_date_only),
]

#: A position in a commit-ordered stream: a PostgreSQL bigint.
StreamPosition = Annotated[int, Field(ge=0, le=2**63 - 1)]

#: Free text a partner stores with a record: printable, no control characters.
PlainText = Annotated[str, Field(pattern=r"^[^\x00-\x1f\x7f]*$")]
