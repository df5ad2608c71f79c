"""The context-manager protocol every peer process shares.

A peer has blocking ``start()`` and ``stop()``; this gives it ``with`` and
``async with`` on top, with one promise: whatever happens, including a
cancelled ``async with`` during start-up, no process outlives the block.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Self


class PeerLifecycle:
    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        starting = asyncio.ensure_future(asyncio.to_thread(self.start))
        try:
            await asyncio.shield(starting)
        except asyncio.CancelledError:
            # A thread cannot be interrupted: let start() finish, then stop
            # whatever it started, so no process outlives the cancellation.
            await asyncio.wait([starting])
            await asyncio.to_thread(self.stop)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)
