"""Run the AppView: read config, serve until SIGTERM/SIGINT, then shut down gracefully."""

from __future__ import annotations

import logging
import os

import uvloop

from cocore.rpc import run_until_signal

from .config import AppViewConfig
from .server import settle_gc, start

log = logging.getLogger("cocore.appview")


async def _main() -> None:
    config = AppViewConfig.from_env(os.environ)
    app = await start(config)
    settle_gc()
    try:
        await run_until_signal(
            app.grpc,
            on_ready=lambda: log.info(
                "appview ready: grpc %s, xrpc %s", app.grpc.address, app.http_url
            ),
        )
    finally:
        await app.stop()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    uvloop.run(_main())  # libuv's loop: cheaper socket I/O for asyncpg, uvicorn and gRPC
