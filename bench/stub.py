"""A stub backend that answers every request after a fixed latency.

It stands for a backend whose time is spent waiting, so it must cost far less
CPU per request than the client calling it: a raw asyncio protocol (on uvloop
when installed), no framework, no routing. Each listening port has its own
latency; every request on it gets ``200 OK`` with a small JSON body after that
many milliseconds, on a kept-alive HTTP/1.1 connection.

The delay is a ``loop.call_later`` timer, the same timer ``asyncio.sleep``
waits on, without a task per request.

Run as ``python -m bench.stub --latency-ms 40 25 15 60 [--cpu 1]``. Once every
port listens it prints one JSON line ``{"pid": ..., "ports": [...]}`` on
stdout, then serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
from typing import cast

_BODY = b'{"ok":true}'
_RESPONSE = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: application/json\r\n"
    b"Content-Length: " + str(len(_BODY)).encode() + b"\r\n"
    b"\r\n" + _BODY
)
_CLOSE_RESPONSE = _RESPONSE.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
_MAX_HEAD = 64 * 1024


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


def _wants_close(head: bytes) -> bool:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"connection":
            return value.strip().lower() == b"close"
    return False


class _DelayedAnswer(asyncio.Protocol):
    """Answers each complete request on the connection after ``delay`` s."""

    def __init__(self, delay: float) -> None:
        self._delay = delay
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self._transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > _MAX_HEAD:
                    self._abort()
                return
            head = bytes(self._buffer[:end])
            length = _content_length(head) if b"ength" in head else 0
            total = end + 4 + length
            if len(self._buffer) < total:
                return
            del self._buffer[:total]
            close = b"lose" in head and _wants_close(head)
            self._loop.call_later(self._delay, self._answer, close)

    def _answer(self, close: bool) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if close:
            transport.write(_CLOSE_RESPONSE)
            transport.close()
        else:
            transport.write(_RESPONSE)

    def _abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()


async def serve(latencies_ms: list[float], host: str) -> None:
    loop = asyncio.get_running_loop()
    servers: list[asyncio.Server] = []
    for latency in latencies_ms:
        delay = latency / 1000

        def factory(delay: float = delay) -> asyncio.Protocol:
            return _DelayedAnswer(delay)

        servers.append(await loop.create_server(factory, host, 0, backlog=1024))
    ports = [server.sockets[0].getsockname()[1] for server in servers]
    print(json.dumps({"pid": os.getpid(), "ports": ports}), flush=True)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    for server in servers:
        server.close()
    # Connections are kept alive by the client; do not wait for them.


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--latency-ms",
        type=float,
        nargs="+",
        required=True,
        help="one listening port per latency, in milliseconds",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--cpu", type=int, help="pin this process to one CPU")
    parser.add_argument(
        "--loop", choices=["uvloop", "asyncio"], default="uvloop", help="event loop"
    )
    args = parser.parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    loop_factory = None
    if args.loop == "uvloop":
        import uvloop

        loop_factory = uvloop.new_event_loop
    with (
        contextlib.suppress(KeyboardInterrupt),
        asyncio.Runner(loop_factory=loop_factory) as runner,
    ):
        runner.run(serve(args.latency_ms, args.host))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
