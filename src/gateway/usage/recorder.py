"""Counting requests in memory, per account and capability, as they are answered.

A request counts when its API key was accepted and it reached a route of one
of the seven capabilities, whatever the answer: a 403 for a missing scope or
a 404 for an unknown order still shows that the account's portal uses the
capability. The answer's class is kept beside the count (4xx, 5xx), since
telling them apart costs nothing here. Requests refused before the key was
accepted (401) belong to no account and are not counted.

Nothing here touches the database: a request adds to one small dict, and
:mod:`gateway.usage.flusher` writes the dict out every few seconds.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.usage.capabilities import Capability, capability_of

UsageKey = tuple[uuid.UUID, Capability]


@dataclass(slots=True)
class Tally:
    """What one process counted for one account and capability since its last
    flush. Times are epoch seconds; the flusher turns them into timestamps."""

    requests: int
    client_errors: int
    server_errors: int
    first_used_at: float
    last_used_at: float

    @classmethod
    def of(cls, status: int, at: float) -> Tally:
        return cls(
            requests=1,
            client_errors=int(400 <= status < 500),
            server_errors=int(status >= 500),
            first_used_at=at,
            last_used_at=at,
        )

    def add(self, other: Tally) -> None:
        self.requests += other.requests
        self.client_errors += other.client_errors
        self.server_errors += other.server_errors
        self.first_used_at = min(self.first_used_at, other.first_used_at)
        self.last_used_at = max(self.last_used_at, other.last_used_at)


class UsageBuffer:
    """One process's unflushed counts.

    At most one entry per account and capability, so its size is bounded by
    the number of accounts times seven however long flushes keep failing.
    Only the event loop's thread touches it, so it needs no lock: every
    method runs to completion without awaiting.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._tallies: dict[UsageKey, Tally] = {}

    def record(
        self, account_id: uuid.UUID, capability: Capability, status: int
    ) -> None:
        tally = Tally.of(status, self._clock())
        current = self._tallies.get((account_id, capability))
        if current is None:
            self._tallies[(account_id, capability)] = tally
        else:
            current.add(tally)

    def drain(self) -> dict[UsageKey, Tally]:
        """Everything counted so far; the buffer starts again empty."""
        drained, self._tallies = self._tallies, {}
        return drained

    def restore(self, tallies: Mapping[UsageKey, Tally]) -> None:
        """Put back counts a flush could not write, merged with any counted since."""
        for key, tally in tallies.items():
            current = self._tallies.get(key)
            if current is None:
                self._tallies[key] = tally
            else:
                current.add(tally)

    def pending_requests(self) -> int:
        return sum(tally.requests for tally in self._tallies.values())

    def __len__(self) -> int:
        return len(self._tallies)


class UsageMiddleware:
    """Adds each answered request to the buffer when its response starts.

    At the start rather than the end so that a Server-Sent Events stream or a
    long download counts when it is opened, not hours later. Pure ASGI, like
    the other middleware: no task per request and no buffering of bodies.
    """

    def __init__(self, app: ASGIApp, *, buffer: UsageBuffer) -> None:
        self.app = app
        self.buffer = buffer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        counted = False

        async def send_counting(message: Message) -> None:
            nonlocal counted
            if message["type"] == "http.response.start" and not counted:
                counted = True
                self._count(scope, message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_counting)
        except Exception:
            # The request middleware outside answers it with a 500.
            if not counted:
                self._count(scope, 500)
            raise

    def _count(self, scope: Scope, status: int) -> None:
        # get_principal leaves the account here once the key is accepted.
        state: dict[str, Any] = scope.get("state") or {}
        account_id = state.get("account_id")
        if not isinstance(account_id, uuid.UUID):
            return
        capability = capability_of(getattr(scope.get("route"), "path", None))
        if capability is not None:
            self.buffer.record(account_id, capability, status)
