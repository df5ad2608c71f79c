"""Checks the API contract must pass, shared by the tests and the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

#: Property names that hold money. Each must be a decimal string (or a Money
#: object whose amount is one), never a JSON number.
MONEY_WORDS = (
    "amount",
    "price",
    "total",
    "subtotal",
    "balance",
    "tax",
    "discount",
    "cost",
    "threshold",
)


def _is_money_name(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in MONEY_WORDS)


def _types(schema: dict[str, Any]) -> Iterator[str]:
    kind = schema.get("type")
    if isinstance(kind, str):
        yield kind
    elif isinstance(kind, list):
        yield from (item for item in kind if isinstance(item, str))
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, []):
            if isinstance(option, dict):
                yield from _types(option)


def money_fields_typed_as_numbers(document: dict[str, Any]) -> list[str]:
    """Paths of every money-named property that may be a JSON number."""
    found: list[str] = []

    def visit(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for name, schema in (node.get("properties") or {}).items():
                if (
                    isinstance(schema, dict)
                    and _is_money_name(name)
                    and {"number", "integer"} & set(_types(schema))
                ):
                    found.append(f"{path}/properties/{name}")
            for key, value in node.items():
                visit(value, f"{path}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                visit(value, f"{path}/{index}")

    visit(document, "#")
    return found
