"""Serving an ASGI app on loopback inside the demo's own event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, Literal

import uvicorn

__all__ = ["serve_on_loopback"]


@contextlib.asynccontextmanager
async def serve_on_loopback(
    app: Any, port: int = 0, *, lifespan: Literal["auto", "on", "off"] = "auto"
) -> AsyncIterator[tuple[str, asyncio.Task[None]]]:
    """Serve ``app`` on 127.0.0.1 until the block ends; yield its URL and task.

    ``port`` 0 takes any free port. The task ends early when uvicorn stops on
    Ctrl-C or SIGTERM, which is how the demo knows to shut down.
    """
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        server_header=False,
        lifespan=lifespan,
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if serving.done():
                await serving
                raise SystemExit("a demo server did not start; see the log above")
            await asyncio.sleep(0.02)
        bound = server.servers[0].sockets[0].getsockname()
        yield f"http://127.0.0.1:{bound[1]}", serving
    finally:
        server.should_exit = True
        await serving
