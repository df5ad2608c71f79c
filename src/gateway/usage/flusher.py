"""Writing a process's buffered usage counts to PostgreSQL, every few seconds.

Requests never wait for this: they add to :class:`UsageBuffer` in memory and
a background task writes the buffer out with one upsert per flush interval,
and once more when the process stops. Replicas each keep their own buffer
and add to the same rows, so their counts sum up.

What a crash costs: a process killed without its shutdown flush loses what it
counted since its last flush, at most one interval of its own requests (five
seconds by default). A flush whose commit never got an answer is retried, so
in that rare case one batch can count twice. Both are fine for analytics,
which ask "does anyone use claims, and since when?", not for billing: exact
counts would need a write on every request's path, which this avoids.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.db.engine import transaction
from gateway.logs import get_logger
from gateway.usage.recorder import UsageBuffer
from gateway.usage.repository import UsageRepository
from gateway.usage.settings import UsageSettings

log = get_logger(__name__)


class UsageFlusher:
    """Moves counts from a buffer to the database; never loses them on a
    failed write, and never raises one."""

    def __init__(
        self,
        buffer: UsageBuffer,
        sessions: async_sessionmaker[AsyncSession],
        settings: UsageSettings,
    ) -> None:
        self._buffer = buffer
        self._sessions = sessions
        self._settings = settings
        # Serialises flushes: a reader that flushes first must find the counts
        # of a periodic flush already running committed, not merely taken.
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    async def flush(self) -> bool:
        """Write everything counted so far; False if the write failed, in which
        case the counts stay in the buffer for the next flush."""
        async with self._lock:
            pending = self._buffer.drain()
            if not pending:
                return True
            try:
                async with transaction(self._sessions) as session:
                    written = await UsageRepository(session).add(pending)
            except BaseException as error:
                self._buffer.restore(pending)
                if not isinstance(error, Exception):
                    raise
                # Broad on purpose: whatever the database did, the counts are
                # kept and the next interval tries again.
                log.warning(
                    "usage.flush.failed",
                    error=type(error).__name__,
                    kept_counters=len(pending),
                )
                return False
        log.debug("usage.flushed", counters=written)
        return True

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="usage-flusher")

    async def stop(self) -> None:
        """Stop the periodic flush and write what is left, within the
        configured time; what cannot be written then is logged and given up."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            async with asyncio.timeout(self._settings.shutdown_flush_seconds):
                await self.flush()
        except TimeoutError:
            pass
        if len(self._buffer):
            log.warning(
                "usage.flush.abandoned",
                counters=len(self._buffer),
                requests=self._buffer.pending_requests(),
            )

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._settings.flush_interval_seconds)
            await self.flush()


@asynccontextmanager
async def flushing(
    buffer: UsageBuffer,
    sessions: async_sessionmaker[AsyncSession],
    settings: UsageSettings,
) -> AsyncIterator[UsageFlusher]:
    """A running flusher for the application's lifespan; flushes on the way out."""
    flusher = UsageFlusher(buffer, sessions, settings)
    flusher.start()
    try:
        yield flusher
    finally:
        await flusher.stop()
