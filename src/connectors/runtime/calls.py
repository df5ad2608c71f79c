"""One connector instance's outbound calls: deadline, concurrency, retries,
circuit breaker and a log line per call.

The layers, outermost first::

    total deadline  (asyncio.timeout: covers waiting, retries and backoff)
      retries       (stamina, idempotent calls only, retryable errors only;
                     entered only once a first attempt has failed)
        breaker     (purgatory; permanent rejections do not count as failures)
          slot      (a semaphore bounding calls in flight)
            call
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import stamina
import structlog
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState

from connectors.runtime.config import ConnectorConfig
from domain.backends import (
    BackendError,
    BackendRejectedError,
    BackendTimeoutError,
    CircuitOpenError,
)

T = TypeVar("T")

log = structlog.stdlib.get_logger("connectors.calls")


def _retryable(error: Exception) -> bool:
    return (
        isinstance(error, BackendError)
        and error.retryable
        and not isinstance(error, CircuitOpenError)
    )


class ConnectorCalls:
    """Runs a connector's calls under its configured policy."""

    def __init__(
        self,
        system: str,
        config: ConnectorConfig,
        breakers: AsyncCircuitBreakerFactory | None = None,
    ) -> None:
        self.system = system
        self.config = config
        self._slots = asyncio.Semaphore(config.max_concurrency)
        self._breakers = breakers or AsyncCircuitBreakerFactory(
            default_threshold=config.breaker_threshold,
            default_ttl=config.breaker_reset_seconds,
            exclude=[BackendRejectedError],
        )

    async def run(
        self,
        operation: str,
        call: Callable[[], Awaitable[T]],
        *,
        idempotent: bool,
    ) -> T:
        """Run ``call`` within the deadline; retry only if ``idempotent``."""
        started = time.perf_counter()
        outcome = "ok"
        try:
            async with asyncio.timeout(self.config.deadline_seconds):
                if not idempotent:
                    return await self._once(operation, call)
                return await self._with_retries(operation, call)
        except TimeoutError:
            outcome = "timeout"
            raise BackendTimeoutError(
                self.system,
                operation,
                f"no answer within {self.config.deadline_seconds:g} s",
            ) from None
        except BackendError as error:
            outcome = error.reason
            raise
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 2)
            level = log.info if outcome == "ok" else log.warning
            level(
                "connector.call",
                connector=self.system,
                operation=operation,
                outcome=outcome,
                duration_ms=duration_ms,
            )

    async def _with_retries(
        self, operation: str, call: Callable[[], Awaitable[T]]
    ) -> T:
        # Most calls succeed at once: the first attempt runs before stamina
        # builds its retrying state (~25-50 µs a call, H1). If it fails with
        # a retryable error, stamina takes over from its first attempt, which
        # raises that same error again without calling, so stamina waits,
        # counts and reports every attempt as if it had made the first too.
        try:
            return await self._once(operation, call)
        except Exception as error:
            if not _retryable(error) or self.config.retry_attempts < 2:
                raise
            first: Exception | None = error
        async for attempt in stamina.retry_context(
            on=_retryable,
            attempts=self.config.retry_attempts,
            timeout=None,  # the outer deadline bounds the whole sequence
            wait_initial=self.config.retry_wait_initial_seconds,
            wait_max=self.config.deadline_seconds / 2,
            wait_jitter=self.config.retry_wait_initial_seconds,
        ):
            with attempt:
                if first is not None:
                    replayed, first = first, None
                    raise replayed
                return await self._once(operation, call)
        raise AssertionError("stamina ends with a result or an exception")

    async def _once(self, operation: str, call: Callable[[], Awaitable[T]]) -> T:
        breaker = await self._breakers.get_breaker(self.system)
        try:
            async with breaker, self._slots:
                return await call()
        except OpenedState:
            raise CircuitOpenError(
                self.system, operation, "recent calls failed; waiting before a probe"
            ) from None

    async def circuit_state(self) -> str:
        """``closed``, ``opened`` or ``half-opened``, for health reports."""
        breaker = await self._breakers.get_breaker(self.system)
        state: str = breaker.context.state
        return state
