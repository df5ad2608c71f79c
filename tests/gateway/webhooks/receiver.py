"""A dealer's webhook receiver on a real loopback port, for the tests.

It keeps every request exactly as it arrived (raw body bytes, headers) and
answers from a script: a status with headers, or a hang until released. The
last answer of the script repeats.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import uvicorn
from starlette.types import Receive, Scope, Send

from tests.support.processes import free_port


@dataclass(frozen=True)
class Answer:
    status: int = 204
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    #: Never answer (until the receiver is released).
    hang: bool = False
    #: Seconds to wait before answering.
    delay: float = 0.0


OK = Answer(204)
HANG = Answer(hang=True)


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    path: str
    #: The event loop's clock when the request arrived.
    at: float


class Receiver:
    def __init__(self, *script: Answer) -> None:
        self.script = list(script) or [OK]
        self.requests: list[Received] = []
        self._arrived = asyncio.Condition()
        self._released = asyncio.Event()
        self.in_flight = 0
        self.most_in_flight = 0

    def answer_with(self, *script: Answer) -> None:
        self.script = list(script)

    def release(self) -> None:
        """Let every hanging request go (they answer 204)."""
        self._released.set()

    async def wait_for(self, count: int) -> list[Received]:
        """The requests so far, once there are ``count`` (10 s at most)."""
        async with asyncio.timeout(10), self._arrived:
            await self._arrived.wait_for(lambda: len(self.requests) >= count)
        return self.requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {
            key.decode("latin-1"): value.decode("latin-1")
            for key, value in scope["headers"]
        }
        answer = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        async with self._arrived:
            self.requests.append(
                Received(
                    headers,
                    bytes(body),
                    scope["path"],
                    asyncio.get_running_loop().time(),
                )
            )
            self._arrived.notify_all()
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if answer.hang:
                await self._released.wait()
                answer = OK
            elif answer.delay:
                await asyncio.sleep(answer.delay)
        finally:
            self.in_flight -= 1
        await send(
            {
                "type": "http.response.start",
                "status": answer.status,
                "headers": [
                    (key.lower().encode(), value.encode())
                    for key, value in answer.headers.items()
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer.body})


@contextlib.asynccontextmanager
async def serving(receiver: Receiver, port: int | None = None) -> AsyncIterator[str]:
    """Serve ``receiver`` on 127.0.0.1 (on ``port`` if given)."""
    chosen = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            receiver, host="127.0.0.1", port=chosen, lifespan="off", log_config=None
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{chosen}"
    finally:
        receiver.release()
        server.should_exit = True
        await asyncio.wait_for(task, 10)
