"""Per-request context that logs and problems read without being passed it."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

correlation_id_var: ContextVar[str] = ContextVar("correlation_id", default="")

_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def accept_request_id(value: str | None) -> str:
    """Reuse a caller's ``X-Request-ID`` when it is safe to log and echo.

    Anything else (too long, control characters, quotes) is replaced with a new
    id, so a hostile header can neither forge log lines nor bloat them.
    """
    if value is not None and _SAFE_REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


def current_correlation_id() -> str:
    return correlation_id_var.get()
