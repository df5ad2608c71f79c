"""PostgreSQL advisory locks: one worker replica at a time for a named job."""

from __future__ import annotations

import hashlib


def advisory_lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_try_advisory_xact_lock``."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
