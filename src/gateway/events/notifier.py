"""Wake-ups from PostgreSQL NOTIFY, shared by every stream of a process.

One connection per process LISTENs; streams wait on it instead of polling
hard. It is only a wake-up: the data always comes from the outbox table, so a
lost notification costs at most one poll interval, and a replica that never
saw the notification serves the same events. When the database restarts the
listener reconnects with backoff; meanwhile streams keep polling.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncpg

from gateway.logs import get_logger

log = get_logger(__name__)


class Notifier:
    def __init__(self, dsn: str, channel: str) -> None:
        self._dsn = dsn
        self._channel = channel
        self._signal = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(
                self._listen(), name=f"listen:{self._channel}"
            )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def wait(self, seconds: float) -> bool:
        """Wait for the next notification; False if ``seconds`` passed first."""
        signal = self._signal
        try:
            async with asyncio.timeout(seconds):
                await signal.wait()
        except TimeoutError:
            return False
        return True

    def _notify(self, *_: Any) -> None:
        signal, self._signal = self._signal, asyncio.Event()
        signal.set()

    async def _listen(self) -> None:
        delay = 0.5
        while True:
            try:
                connection = await asyncpg.connect(self._dsn)
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("events.listener.retry", error=type(error).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            delay = 0.5
            lost = asyncio.Event()
            connection.add_termination_listener(_setter(lost))
            try:
                await connection.add_listener(self._channel, self._notify)
                self._notify()  # anything committed while we were away
                await lost.wait()
                log.warning("events.listener.lost")
            finally:
                with contextlib.suppress(Exception):
                    await connection.close()


def _setter(event: asyncio.Event) -> Any:
    def set_event(*_: Any) -> None:
        event.set()

    return set_event
