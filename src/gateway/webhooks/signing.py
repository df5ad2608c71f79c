"""Signing secrets and Standard Webhooks signatures.

Secrets are 32 random bytes in the Standard Webhooks form ``whsec_<base64>``.
Signing is the reference implementation's (``standardwebhooks.Webhook.sign``)
over the exact body bytes: Portico does not reimplement it. While a rotated
secret is in its grace period the request carries both signatures,
space-separated, so a receiver holding either secret accepts it.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable
from datetime import datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh signing secret, in the form receivers' libraries accept."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signature_header(
    signing_secrets: Iterable[str], message_id: str, sent_at: datetime, body: bytes
) -> str:
    """The ``webhook-signature`` value: one ``v1,`` signature per secret."""
    return " ".join(
        Webhook(secret).sign(message_id, sent_at, body) for secret in signing_secrets
    )
