"""Opaque, signed pagination cursors.

A cursor carries the sort position of the last item a caller saw, the
listing it belongs to and the account it was issued to, signed with the
deployment's secret. A cursor that was edited, taken from another listing or
issued to another account is refused: it can neither skip into another
account's data nor reveal that data exists (case C10).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from typing import Any

import orjson

from domain.errors import InvalidInputError

_SIGNATURE_BYTES = 16
MAX_CURSOR_LENGTH = 2048


class CursorCodec:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def encode(
        self, listing: str, account_id: uuid.UUID | None, position: list[Any]
    ) -> str:
        payload = orjson.dumps(
            {"l": listing, "a": str(account_id) if account_id else None, "p": position}
        )
        signature = self._sign(payload)
        return base64.urlsafe_b64encode(signature + payload).rstrip(b"=").decode()

    def decode(
        self, cursor: str, listing: str, account_id: uuid.UUID | None
    ) -> list[Any]:
        """The position inside ``cursor``, or InvalidInputError if it is not one
        this deployment issued for this listing and account."""
        invalid = InvalidInputError(
            "the cursor is not valid for this listing; start again without one",
            field="cursor",
        )
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise invalid
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except ValueError:
            raise invalid from None
        signature, payload = raw[:_SIGNATURE_BYTES], raw[_SIGNATURE_BYTES:]
        if not hmac.compare_digest(signature, self._sign(payload)):
            raise invalid
        data = orjson.loads(payload)
        owner = str(account_id) if account_id else None
        if data.get("l") != listing or data.get("a") != owner:
            raise invalid
        position = data.get("p")
        if not isinstance(position, list):
            raise invalid
        return position

    def _sign(self, payload: bytes) -> bytes:
        digest = hmac.new(self._secret, payload, hashlib.sha256).digest()
        return digest[:_SIGNATURE_BYTES]
