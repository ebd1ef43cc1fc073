"""uvicorn inside the service's own event loop (the process's signals stay with `__main__`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator

import uvicorn
from starlette.applications import Starlette


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # run_until_signal owns SIGTERM/SIGINT; it stops this server itself


class HttpServer:
    def __init__(self, server: _Server, task: asyncio.Task[None], port: int) -> None:
        self._server, self._task, self.port = server, task, port

    async def stop(self) -> None:
        self._server.should_exit = True
        await self._task


async def serve_http(app: Starlette, host: str, port: int) -> HttpServer:
    """Start serving `app`; returns once the socket is bound (port 0 picks a free one)."""
    config = uvicorn.Config(
        app, host=host, port=port, lifespan="off", access_log=False, log_level="warning"
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # bind failed: raise it here
            raise OSError(f"cannot serve HTTP on {host}:{port}")
        await asyncio.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    return HttpServer(server, task, int(bound))
