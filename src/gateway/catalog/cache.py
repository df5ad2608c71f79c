"""A per-process cache of catalog parts, each kind with its own lifetime.

A cache, not state: a replica that has never seen a product answers just as
correctly, only after asking the backend. Values carry the time they were
fetched, so the API can show how old a cached price or stock level is.
"""

from __future__ import annotations

from typing import Any

from cachetools import TTLCache

from domain.catalog.model import Fetched, Part
from gateway.settings import CatalogSettings


class TtlPartCache:
    def __init__(self, settings: CatalogSettings) -> None:
        ttl = {
            Part.CONTENT: settings.content_ttl_seconds,
            Part.PRICE: settings.price_ttl_seconds,
            Part.STOCK: settings.stock_ttl_seconds,
        }
        self._caches: dict[Part, TTLCache[str, Fetched[Any]] | None] = {
            part: TTLCache(maxsize=settings.cache_entries, ttl=seconds)
            if seconds > 0 and settings.cache_entries > 0
            else None
            for part, seconds in ttl.items()
        }

    def get(self, part: Part, key: str) -> Fetched[Any] | None:
        cache = self._caches[part]
        return None if cache is None else cache.get(key)

    def put(self, part: Part, key: str, value: Fetched[Any]) -> None:
        cache = self._caches[part]
        if cache is not None:
            cache[key] = value
