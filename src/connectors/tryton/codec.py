"""Tryton's JSON-RPC value encoding.

Tryton extends JSON with tagged objects (``{"__class__": "Decimal", ...}``) so
that exact decimals, dates, times, durations and binary data survive the trip.
:func:`encode` turns Python values into plain JSON-compatible values carrying
those tags; :func:`decode` does the reverse. Both walk lists and dicts
recursively, never mutate their input and have no side effects.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, TypeAlias

__all__ = ["JsonValue", "TrytonValue", "decode", "encode"]

JsonValue: TypeAlias = (
    bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"] | None
)
"""A value that a JSON serialiser can write as it is."""

TrytonValue: TypeAlias = (
    bool
    | int
    | float
    | str
    | Decimal
    | dt.datetime
    | dt.date
    | dt.time
    | dt.timedelta
    | bytes
    | list["TrytonValue"]
    | dict[str, "TrytonValue"]
    | None
)
"""A Python value that Tryton's JSON-RPC can carry."""


def encode(value: Any) -> JsonValue:
    """Return ``value`` with every non-JSON type replaced by its Tryton tag.

    Accepts the :data:`TrytonValue` types plus tuples, sets and frozensets
    (written as lists, as Tryton itself does) and any mapping with string
    keys. Timezone-aware datetimes are converted to naive UTC, because Tryton
    stores and compares naive UTC timestamps.

    Raises:
        TypeError: for a value of any other type, or a mapping key that is
            not a string.
    """
    # bool is an int subclass; both pass through untouched.
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return {"__class__": "Decimal", "decimal": str(value)}
    # datetime is a date subclass, so it must be tested first.
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return {
            "__class__": "datetime",
            "year": value.year,
            "month": value.month,
            "day": value.day,
            "hour": value.hour,
            "minute": value.minute,
            "second": value.second,
            "microsecond": value.microsecond,
        }
    if isinstance(value, dt.date):
        return {
            "__class__": "date",
            "year": value.year,
            "month": value.month,
            "day": value.day,
        }
    if isinstance(value, dt.time):
        return {
            "__class__": "time",
            "hour": value.hour,
            "minute": value.minute,
            "second": value.second,
            "microsecond": value.microsecond,
        }
    if isinstance(value, dt.timedelta):
        return {"__class__": "timedelta", "seconds": value.total_seconds()}
    if isinstance(value, bytes | bytearray | memoryview):
        return {
            "__class__": "bytes",
            "base64": base64.b64encode(bytes(value)).decode("ascii"),
        }
    if isinstance(value, Mapping):
        encoded: dict[str, JsonValue] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(
                    f"Tryton JSON object keys must be str, not {type(key).__name__}"
                )
            encoded[key] = encode(item)
        return encoded
    if isinstance(value, list | tuple | set | frozenset):
        return [encode(item) for item in value]
    raise TypeError(f"cannot encode {type(value).__name__} for Tryton JSON-RPC")


def decode(value: Any) -> TrytonValue:
    """Return ``value`` with every Tryton tag replaced by its Python value.

    ``value`` is what a JSON parser produced (dicts, lists, str, numbers,
    bool, None); anything else is returned unchanged.

    ``Decimal`` becomes :class:`~decimal.Decimal`, ``datetime`` a naive
    :class:`~datetime.datetime` (UTC, as Tryton sends it), ``date``, ``time``
    and ``timedelta`` their :mod:`datetime` types and ``bytes``
    :class:`bytes`. Objects with an unknown or missing ``__class__`` stay
    dicts (with decoded values).

    Raises:
        ValueError: for a known tag whose fields are missing or malformed.
    """
    if isinstance(value, list):
        return [decode(item) for item in value]
    if isinstance(value, dict):
        tag = value.get("__class__")
        if isinstance(tag, str) and tag in _DECODERS:
            try:
                return _DECODERS[tag](value)
            except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
                raise ValueError(f"malformed Tryton {tag} value") from exc
        return {key: decode(item) for key, item in value.items()}
    result: TrytonValue = value
    return result


def _int(obj: dict[str, JsonValue], key: str) -> int:
    item = obj[key]
    # bool would pass isinstance(int) and silently mean 0/1.
    if isinstance(item, bool) or not isinstance(item, int):
        raise TypeError(f"{key} must be an integer")
    return item


def _decode_decimal(obj: dict[str, JsonValue]) -> Decimal:
    text = obj["decimal"]
    if not isinstance(text, str | int):
        raise TypeError("decimal must be a string")
    number = Decimal(text)
    if not number.is_finite():
        raise ValueError("decimal must be finite")
    return number


def _decode_datetime(obj: dict[str, JsonValue]) -> dt.datetime:
    # Naive on purpose: Tryton sends UTC timestamps without an offset.
    return dt.datetime(
        _int(obj, "year"),
        _int(obj, "month"),
        _int(obj, "day"),
        _int(obj, "hour"),
        _int(obj, "minute"),
        _int(obj, "second"),
        _int(obj, "microsecond"),
    )


def _decode_date(obj: dict[str, JsonValue]) -> dt.date:
    return dt.date(_int(obj, "year"), _int(obj, "month"), _int(obj, "day"))


def _decode_time(obj: dict[str, JsonValue]) -> dt.time:
    return dt.time(
        _int(obj, "hour"),
        _int(obj, "minute"),
        _int(obj, "second"),
        _int(obj, "microsecond"),
    )


def _decode_timedelta(obj: dict[str, JsonValue]) -> dt.timedelta:
    seconds = obj["seconds"]
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise TypeError("seconds must be a number")
    return dt.timedelta(seconds=seconds)


def _decode_bytes(obj: dict[str, JsonValue]) -> bytes:
    text = obj["base64"]
    if not isinstance(text, str):
        raise TypeError("base64 must be a string")
    try:
        # Tryton's own encoder inserts newlines (base64.encodebytes).
        return base64.b64decode("".join(text.split()), validate=True)
    except binascii.Error as exc:
        raise ValueError("invalid base64") from exc


_DECODERS: dict[str, Callable[[dict[str, JsonValue]], TrytonValue]] = {
    "Decimal": _decode_decimal,
    "datetime": _decode_datetime,
    "date": _decode_date,
    "time": _decode_time,
    "timedelta": _decode_timedelta,
    "bytes": _decode_bytes,
}
