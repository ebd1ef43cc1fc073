"""`python -m services.gateway`: read the config, serve until SIGTERM, drain, exit."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal

import uvloop

from .config import GatewayConfig
from .server import start

log = logging.getLogger("cocore.gateway")


async def main(config: GatewayConfig) -> None:
    if config.stage_log:  # bench/gateway --profile reads these lines from the log
        logging.getLogger("cocore.gateway.stages").setLevel(logging.DEBUG)
    gateway = await start(config)
    # What start-up allocated lives as long as the process: keep the cyclic collector from
    # rescanning it: a full pass stalls every request in flight (~0.2 s in bench/gateway).
    gc.collect()
    gc.freeze()
    log.info("gateway HTTP on %s, ext_authz on %s", gateway.url, gateway.authz.address)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    log.info("gateway draining")
    await gateway.stop()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    config = GatewayConfig.from_env(os.environ)
    if config.event_loop == "uvloop":  # libuv's loop: cheaper I/O and wake-ups; grpc.aio runs
        uvloop.run(main(config))
    else:
        asyncio.run(main(config))
