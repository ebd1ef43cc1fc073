"""Run the AppView: read config, serve until SIGTERM/SIGINT, then shut down gracefully."""

from __future__ import annotations

import asyncio
import gc
import logging
import os

from cocore.rpc import run_until_signal

from .config import AppViewConfig
from .server import start

log = logging.getLogger("cocore.appview")


async def _main() -> None:
    config = AppViewConfig.from_env(os.environ)
    app = await start(config)
    # What start-up allocated lives as long as the process: keep the cyclic collector from
    # rescanning it on every full pass (a stall for every query in flight).
    gc.collect()
    gc.freeze()
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
    asyncio.run(_main())
