"""``Content-Disposition`` for downloads whose names come from users or ERPs.

Case C06: a name such as ``Счёт-фактура №12.pdf`` travels as an ASCII
fallback (``filename="..."``) for old clients plus the exact name as
``filename*=UTF-8''...`` (RFC 6266, RFC 8187). Control characters, CR and
LF are dropped before anything else, and the fallback never holds a quote or
a backslash, so no name can end the header or add one.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final
from urllib.parse import quote

MAX_NAME_LENGTH: Final = 200
_FALLBACK_UNSAFE = re.compile(r"[^A-Za-z0-9._() -]+")
_RUNS = re.compile(r"_{2,}")
#: RFC 8187 attr-char beyond letters and digits.
_ATTR_CHARS: Final = "!#$&+-.^_`|~"


def clean_filename(name: str, default: str = "download") -> str:
    """``name`` without control characters or path separators, trimmed."""
    kept = "".join(
        " " if char in "\t" else char
        for char in name
        if unicodedata.category(char)[0] != "C" or char == "\t"
    )
    kept = kept.replace("/", "_").replace("\\", "_").strip().strip(".")
    return kept[:MAX_NAME_LENGTH] or default


def ascii_fallback(name: str) -> str:
    """An ASCII-only stand-in: accents stripped, everything else ``_``."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    safe = _RUNS.sub("_", _FALLBACK_UNSAFE.sub("_", plain))
    stem, dot, extension = safe.rpartition(".")
    if not dot:
        stem, extension = safe, ""
    stem = stem.strip(" _-.") or "download"
    extension = extension.strip(" _-")
    return f"{stem}.{extension}" if extension else stem


def content_disposition(name: str, disposition: str = "attachment") -> str:
    """The header value for a download of a file called ``name``."""
    cleaned = clean_filename(name)
    encoded = quote(cleaned, safe=_ATTR_CHARS)
    fallback = ascii_fallback(cleaned)
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
