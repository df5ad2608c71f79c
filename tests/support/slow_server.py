"""Real TCP servers on loopback that misbehave in the ways backends do."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field


@dataclass
class ServerStats:
    connections: int = 0
    open_connections: int = 0
    requests: int = 0
    statuses: list[int] = field(default_factory=list)


async def _read_request(reader: asyncio.StreamReader) -> bool:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return False
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            await reader.readexactly(int(line.split(b":")[1]))
    return True


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def _serve(handle: Handler) -> AsyncIterator[str]:
    """Serve on a free loopback port; on exit, end every open connection too."""
    tasks: set[asyncio.Task[None]] = set()

    async def tracked(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handle(reader, writer)
        finally:
            tasks.discard(task)

    server = await asyncio.start_server(tracked, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


@contextlib.asynccontextmanager
async def trickling_server(interval: float, stats: ServerStats) -> AsyncIterator[str]:
    """Answers 200 and then sends one body byte every ``interval`` seconds,
    forever: a socket read never waits long, but the answer never ends."""

    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        stats.connections += 1
        stats.open_connections += 1
        try:
            if await _read_request(reader):
                stats.requests += 1
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"content-length: 1000000\r\n\r\n"
                )
                while True:
                    writer.write(b" ")
                    await writer.drain()
                    await asyncio.sleep(interval)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            stats.open_connections -= 1
            writer.close()

    async with _serve(handle) as base_url:
        yield base_url


@contextlib.asynccontextmanager
async def scripted_server(
    statuses: list[int], stats: ServerStats
) -> AsyncIterator[str]:
    """Answers each request with the next status of ``statuses`` (the last one
    repeats), with a small JSON body."""

    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        stats.connections += 1
        try:
            while await _read_request(reader):
                index = min(stats.requests, len(statuses) - 1)
                status = statuses[index]
                stats.requests += 1
                stats.statuses.append(status)
                body = b'{"ok": true}'
                writer.write(
                    f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n"
                    f"content-length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async with _serve(handle) as base_url:
        yield base_url
