"""Tryton's JSON value tags: what encode writes and decode reads back."""

from __future__ import annotations

import base64
import datetime as dt
from decimal import Decimal
from typing import Any

import orjson
import pytest

from connectors.tryton.codec import decode, encode


@pytest.mark.parametrize(
    "value",
    [
        Decimal("1234.5600"),
        Decimal("-0.000001"),
        Decimal("1E+3"),
        dt.date(1996, 3, 13),
        dt.datetime(2026, 12, 3, 18, 30, 5, 123456),
        dt.time(23, 59, 58, 1),
        dt.timedelta(days=2, seconds=7, microseconds=500000),
        b"\x00binary\xffdata",
        None,
        True,
        0,
        1.5,
        "Customer#000000001",
    ],
)
def test_every_tryton_type_survives_a_json_round_trip(value: Any) -> None:
    wire = orjson.loads(orjson.dumps(encode(value)))

    decoded = decode(wire)

    assert decoded == value
    assert type(decoded) is type(value)


def test_nested_structures_are_walked_recursively() -> None:
    value = {
        "lines": [
            ["create", [{"quantity": 3.0, "unit_price": Decimal("901.00")}]],
        ],
        "sale_date": dt.date(2026, 1, 31),
        "tags": ("a", "b"),
    }

    wire = encode(value)

    assert wire == {
        "lines": [
            [
                "create",
                [
                    {
                        "quantity": 3.0,
                        "unit_price": {"__class__": "Decimal", "decimal": "901.00"},
                    }
                ],
            ]
        ],
        "sale_date": {"__class__": "date", "year": 2026, "month": 1, "day": 31},
        "tags": ["a", "b"],
    }
    assert decode(wire) == {**value, "tags": ["a", "b"]}


def test_encode_writes_the_exact_shapes_tryton_reads() -> None:
    assert encode(Decimal("0.10")) == {"__class__": "Decimal", "decimal": "0.10"}
    assert encode(dt.datetime(2020, 2, 29, 1, 2, 3, 4)) == {
        "__class__": "datetime",
        "year": 2020,
        "month": 2,
        "day": 29,
        "hour": 1,
        "minute": 2,
        "second": 3,
        "microsecond": 4,
    }
    assert encode(dt.time(1, 2)) == {
        "__class__": "time",
        "hour": 1,
        "minute": 2,
        "second": 0,
        "microsecond": 0,
    }
    assert encode(dt.timedelta(hours=1)) == {
        "__class__": "timedelta",
        "seconds": 3600.0,
    }
    assert encode(b"hi") == {"__class__": "bytes", "base64": "aGk="}


def test_aware_datetimes_are_sent_as_naive_utc() -> None:
    paris_winter = dt.timezone(dt.timedelta(hours=1))
    value = dt.datetime(2026, 1, 1, 0, 30, tzinfo=paris_winter)

    assert decode(encode(value)) == dt.datetime(2025, 12, 31, 23, 30)


def test_bytes_as_tryton_encodes_them_with_line_breaks_decode() -> None:
    # Tryton's server uses base64.encodebytes, which wraps every 76 characters.
    payload = bytes(range(256))
    wire = {"__class__": "bytes", "base64": base64.encodebytes(payload).decode()}

    assert "\n" in wire["base64"]
    assert decode(wire) == payload


def test_sets_are_sent_as_lists() -> None:
    assert encode(frozenset({7})) == [7]


def test_unknown_tags_and_plain_objects_stay_dicts() -> None:
    wire = {"__class__": "Money", "amount": {"__class__": "Decimal", "decimal": "1"}}

    assert decode(wire) == {"__class__": "Money", "amount": Decimal(1)}


def test_decode_does_not_change_its_input() -> None:
    wire = {"price": {"__class__": "Decimal", "decimal": "2.50"}}

    decode(wire)

    assert wire == {"price": {"__class__": "Decimal", "decimal": "2.50"}}


@pytest.mark.parametrize(
    "wire",
    [
        {"__class__": "Decimal", "decimal": "not a number"},
        {"__class__": "Decimal", "decimal": "NaN"},
        {"__class__": "Decimal"},
        {"__class__": "date", "year": 2026, "month": 13, "day": 1},
        {"__class__": "date", "year": True, "month": 1, "day": 1},
        {"__class__": "datetime", "year": 2026, "month": 1, "day": 1},
        {"__class__": "time", "hour": "1", "minute": 0, "second": 0, "microsecond": 0},
        {"__class__": "timedelta", "seconds": "60"},
        {"__class__": "bytes", "base64": "not base64!"},
    ],
)
def test_malformed_tags_are_refused(wire: Any) -> None:
    with pytest.raises(ValueError, match="malformed Tryton"):
        decode(wire)


@pytest.mark.parametrize("value", [object(), {1: "int key"}, [complex(1, 2)]])
def test_values_tryton_cannot_carry_are_refused(value: Any) -> None:
    with pytest.raises(TypeError):
        encode(value)
