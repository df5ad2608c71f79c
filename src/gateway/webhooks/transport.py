"""One webhook request, sent safely, and what came of it.

``WebhookTransport.send`` makes a single POST and always returns an
``AttemptResult``; it never retries (the schedule does) and never raises for
anything the receiver or the network did. Its promises:

- a total deadline (``timeout_seconds``) over resolving, connecting, TLS,
  sending and reading, not a per-read timeout a trickling receiver could
  stretch forever;
- the address rules of ``gateway.webhooks.targets``, applied to the address
  actually connected to (the check lives in the connection's network layer);
- no redirects followed (a 3xx is a failed attempt), no proxy taken from the
  environment, and at most ``response_body_limit`` bytes of an answer read.

It sends through httpcore, the connection pool under httpx, so that the
address check can sit in its network backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import ssl
import time
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

import httpcore

from gateway import __version__
from gateway.webhooks.settings import WebhookSettings
from gateway.webhooks.targets import NameResolutionError, TargetError, TargetPolicy

USER_AGENT = f"Portico-Webhooks/{__version__}"


class _GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Connects only to an address the policy permits for the host."""

    def __init__(self, policy: TargetPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's signature
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        address = await self._policy.resolve(host, port)
        return await self._inner.connect_tcp(
            address, port, timeout, local_address, socket_options
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's signature
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise TargetError("webhooks are never sent to a unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What one request achieved. ``error_class`` is None exactly on a 2xx."""

    started_at: datetime
    duration_ms: int
    status: int | None = None
    body: str | None = None
    error_class: str | None = None
    error_detail: str | None = None
    #: Seconds the receiver asked to wait (Retry-After on 429 and 503).
    retry_after: float | None = None
    #: Retrying cannot help (the target is refused by policy).
    permanent: bool = False

    @property
    def delivered(self) -> bool:
        return self.error_class is None

    @property
    def gone(self) -> bool:
        return self.status == 410


def parse_retry_after(value: bytes | None, now: datetime) -> float | None:
    if value is None:
        return None
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max((when - now).total_seconds(), 0.0)


def _status_error(status: int) -> str:
    if 300 <= status < 400:
        return "redirect_not_followed"
    if status == 410:
        return "gone"
    if status == 429:
        return "rate_limited"
    return "http_status"


class _Stopwatch:
    """Stamps a result with when its attempt started and how long it took."""

    def __init__(self) -> None:
        self.started_at = datetime.now(UTC)
        self._clock = time.perf_counter()

    def result(
        self,
        *,
        status: int | None = None,
        body: str | None = None,
        error_class: str | None = None,
        error_detail: str | None = None,
        retry_after: float | None = None,
        permanent: bool = False,
    ) -> AttemptResult:
        return AttemptResult(
            started_at=self.started_at,
            duration_ms=round((time.perf_counter() - self._clock) * 1000),
            status=status,
            body=body,
            error_class=error_class,
            error_detail=error_detail,
            retry_after=retry_after,
            permanent=permanent,
        )


def _is_tls_failure(error: BaseException) -> bool:
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


class WebhookTransport:
    def __init__(self, settings: WebhookSettings) -> None:
        self._settings = settings
        self._policy = TargetPolicy.of(settings)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl.create_default_context(),
            max_connections=settings.max_connections,
            keepalive_expiry=30.0,
            network_backend=_GuardedNetworkBackend(self._policy),
        )

    async def aclose(self) -> None:
        await self._pool.aclose()

    async def send(
        self, url: str, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> AttemptResult:
        watch = _Stopwatch()
        try:
            async with asyncio.timeout(self._settings.timeout_seconds):
                return await self._exchange(url, headers, body, watch)
        except (TimeoutError, httpcore.TimeoutException):
            return watch.result(
                error_class="timeout",
                error_detail="no complete answer within "
                f"{self._settings.timeout_seconds:g} s",
            )
        except TargetError as error:
            return watch.result(
                error_class=error.error_class, error_detail=str(error), permanent=True
            )
        except NameResolutionError as error:
            return watch.result(error_class=error.error_class, error_detail=str(error))
        except httpcore.UnsupportedProtocol as error:
            return watch.result(
                error_class="insecure_url", error_detail=str(error), permanent=True
            )
        except (httpcore.NetworkError, httpcore.ProtocolError) as error:
            kind = "tls_error" if _is_tls_failure(error) else "connection_error"
            detail = str(error) or type(error).__name__
            return watch.result(error_class=kind, error_detail=detail[:500])

    async def _exchange(
        self,
        url: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        watch: _Stopwatch,
    ) -> AttemptResult:
        try:
            target = httpcore.URL(url)
        except ValueError as error:
            # Saved before its form was checked as it is now (a port past
            # 65535): calling it can never work.
            raise TargetError(f"the URL cannot be called: {error}") from None
        self._policy.check_scheme(target.scheme.decode("ascii"))
        timeout = self._settings.timeout_seconds
        async with self._pool.stream(
            "POST",
            target,
            headers=[(b"user-agent", USER_AGENT.encode()), *headers],
            content=body,
            extensions={
                "timeout": {
                    "connect": timeout,
                    "read": timeout,
                    "write": timeout,
                    "pool": timeout,
                }
            },
        ) as response:
            excerpt = await _read_limited(response, self._settings.response_body_limit)
        status = response.status
        text = excerpt.decode("utf-8", errors="replace") if excerpt else None
        if 200 <= status < 300:
            return watch.result(status=status, body=text)
        retry_after = None
        if status in (429, 503):
            retry_after = parse_retry_after(
                _header(response.headers, b"retry-after"), datetime.now(UTC)
            )
        return watch.result(
            status=status,
            body=text,
            error_class=_status_error(status),
            error_detail=f"the receiver answered {status}",
            retry_after=retry_after,
        )


async def _read_limited(response: httpcore.Response, limit: int) -> bytes:
    """At most ``limit`` bytes of the body; the rest is never read (the
    connection is closed rather than drained)."""
    if limit <= 0:
        return b""
    kept = bytearray()
    # aiter_stream is an async generator: close it if we stop early.
    stream = cast(AsyncGenerator[bytes, None], response.aiter_stream())
    async with contextlib.aclosing(stream) as chunks:
        async for chunk in chunks:
            kept += chunk
            if len(kept) >= limit:
                break
    return bytes(kept[:limit])


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None
