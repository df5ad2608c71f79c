"""Pure ASGI middleware: correlation ids, the access log, header limits and the
last line of defence against unexpected errors.

Written against ASGI directly rather than ``BaseHTTPMiddleware`` so that it
adds no task per request and never buffers a streamed response.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any

import structlog
from fastapi import HTTPException
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.api.context import accept_request_id, correlation_id_var
from gateway.api.problems import (
    BAD_REQUEST,
    HEADERS_TOO_LARGE,
    INTERNAL_ERROR,
    PAYLOAD_TOO_LARGE,
    ProblemType,
    problem_response,
)
from gateway.logs import get_logger

log = get_logger("gateway.http")

REQUEST_ID_HEADER = "x-request-id"


class RequestContextMiddleware:
    """Binds the correlation id, writes one access line, and turns any escaped
    exception into a 500 problem that reveals nothing of the internals."""

    def __init__(self, app: ASGIApp, *, max_header_bytes: int) -> None:
        self.app = app
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
        request_id = accept_request_id(_header(raw_headers, b"x-request-id"))
        token = correlation_id_var.set(request_id)
        # Nothing bound for an earlier request on this task may leak into this one.
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(correlation_id=request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            header_bytes = sum(len(name) + len(value) for name, value in raw_headers)
            if header_bytes > self.max_header_bytes:
                response = problem_response(
                    HEADERS_TOO_LARGE,
                    f"request headers total {header_bytes} bytes; "
                    f"the limit is {self.max_header_bytes}",
                    scope["path"],
                )
                await response(scope, receive, send_with_id)
            else:
                await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("http.unhandled_error", path=scope["path"])
            if not response_started:
                response = problem_response(
                    INTERNAL_ERROR,
                    "the gateway failed to handle this request; quote the "
                    "correlation_id to the supplier's operators",
                    scope["path"],
                )
                await response(scope, receive, send_with_id)
        finally:
            _log_access(scope, status, time.perf_counter() - started)
            structlog.contextvars.clear_contextvars()
            correlation_id_var.reset(token)


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


def _log_access(scope: Scope, status: int, seconds: float) -> None:
    route = scope.get("route")
    template = getattr(route, "path", None) or "unmatched"
    state: dict[str, Any] = scope.get("state") or {}
    log.info(
        "http.request",
        method=scope["method"],
        route=template,
        status=status,
        duration_ms=round(seconds * 1000, 2),
        account_id=str(state["account_id"]) if "account_id" in state else None,
    )


class BodyTooLargeError(HTTPException):
    """Raised from ``receive`` once a body passes the limit.

    An HTTPException so that FastAPI's body parsing lets it through untouched
    and the problem handler answers it like any other 413.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(
            413, f"the request body is larger than the limit of {limit} bytes"
        )


def _declared_length_refusal(
    declared: str, limit: int
) -> tuple[ProblemType, str] | None:
    """Why a declared Content-Length is refused before the body is read, if it is.

    Only ASCII digits are a length; anything else is malformed, not large. The
    digits are counted before they are converted: a length of thousands of
    digits is over any limit, and converting it would be slow or refused.
    """
    if not (declared.isascii() and declared.isdigit()):
        return BAD_REQUEST, f"Content-Length {declared[:40]!r} is not a number of bytes"
    digits = declared.lstrip("0") or "0"
    if len(digits) > len(str(limit)) or int(digits) > limit:
        return (
            PAYLOAD_TOO_LARGE,
            f"the request body is larger than the limit of {limit} bytes",
        )
    return None


class BodyLimitMiddleware:
    """Refuses bodies over the limit while they arrive, never after.

    A declared ``Content-Length`` over the limit is refused before a byte is
    read; a chunked body is counted as it streams and cut off at the limit.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        overrides: Sequence[tuple[re.Pattern[str], int]] = (),
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        #: Paths with a limit of their own (attachment uploads), first match wins.
        self.overrides = tuple(overrides)

    def limit_for(self, path: str) -> int:
        for pattern, limit in self.overrides:
            if pattern.fullmatch(path):
                return limit
        return self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _header(scope["headers"], b"content-length")
        if declared is not None:
            refusal = _declared_length_refusal(declared, limit)
            if refusal is not None:
                problem, detail = refusal
                response = problem_response(problem, detail, scope["path"])
                await response(scope, receive, send)
                return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError(limit)
            return message

        await self.app(scope, limited_receive, send)
