"""API keys: what a key looks like, how it is checked and what it carries.

A key reads ``pk_<prefix>_<secret>``. The prefix is stored in clear so that an
operator can name a key (``portico keys revoke pk_ab12cd34``) and so that a
presented key is found with one indexed lookup. The secret has 256 bits of
entropy, so a SHA-256 digest is a safe thing to store: there is nothing to
brute-force that a slow hash would protect.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from domain.accounts.scopes import Scope

_KEY_PATTERN = re.compile(r"pk_([a-z0-9]{8})_([A-Za-z0-9_-]{43})")
_PREFIX_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
MAX_KEY_LENGTH = 64


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A key as handed to its owner, once. Only ``digest`` is ever stored."""

    prefix: str
    secret: str

    @property
    def token(self) -> str:
        return f"pk_{self.prefix}_{self.secret}"

    @property
    def digest(self) -> bytes:
        return digest_secret(self.secret)

    @property
    def display_prefix(self) -> str:
        return f"pk_{self.prefix}"


@dataclass(frozen=True, slots=True)
class PresentedKey:
    """The parts of a key as a caller presented it, before it is checked."""

    prefix: str
    secret: str

    def matches(self, stored_digest: bytes) -> bool:
        return hmac.compare_digest(digest_secret(self.secret), stored_digest)


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key's metadata. The secret itself is never kept."""

    id: uuid.UUID
    account_id: uuid.UUID
    prefix: str
    name: str
    scopes: frozenset[Scope]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def display_prefix(self) -> str:
        return f"pk_{self.prefix}"


def issue_key() -> IssuedKey:
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(8))
    return IssuedKey(prefix=prefix, secret=secrets.token_urlsafe(32))


def parse_key(token: str) -> PresentedKey | None:
    """Split a presented token, or None when it cannot be a Portico key."""
    if len(token) > MAX_KEY_LENGTH:
        return None
    match = _KEY_PATTERN.fullmatch(token)
    if match is None:
        return None
    return PresentedKey(prefix=match.group(1), secret=match.group(2))


def parse_prefix(value: str) -> str | None:
    """Accept ``pk_ab12cd34`` or ``ab12cd34`` and return the bare prefix."""
    bare = value.removeprefix("pk_")
    if len(bare) == 8 and all(char in _PREFIX_ALPHABET for char in bare):
        return bare
    return None


def digest_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("ascii")).digest()
