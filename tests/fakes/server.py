"""Running an ASGI app with uvicorn on a free 127.0.0.1 port, inside the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def serve_asgi(
    app: Any, port: int, *, stop_timeout_s: float = 10, **options: Any
) -> AsyncIterator[uvicorn.Server]:
    """Serves `app` on 127.0.0.1:port until the block ends; `options` go to uvicorn.Config."""
    options.setdefault("log_level", "warning")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **options))
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        if task.done():
            task.result()  # it failed to start: raise why
        await asyncio.sleep(0.01)
    try:
        yield server
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, stop_timeout_s)
