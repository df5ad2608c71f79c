"""A customer as a back-office system records it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Customer:
    """One account's record in one system. ``ref`` is that system's id."""

    ref: str
    code: str
    name: str
