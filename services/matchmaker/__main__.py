"""`python -m services.matchmaker`: read the config, serve until SIGTERM, drain, exit."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal

import uvloop

from .config import MatchmakerConfig
from .server import start

log = logging.getLogger("cocore.matchmaker")


async def main() -> None:
    config = MatchmakerConfig.from_env(os.environ)
    if config.stage_log:  # bench/gateway --profile reads these lines from the log
        logging.getLogger("cocore.matchmaker.stages").setLevel(logging.DEBUG)
    service = await start(config)
    # What start-up allocated lives as long as the process: keep the cyclic collector from
    # rescanning it: a full pass stalls every request in flight (~0.2 s in bench/gateway).
    gc.collect()
    gc.freeze()
    log.info("matchmaker %s listening on %s", config.replica_id, service.address)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    # Drain: no new streams or picks here, running jobs finish within the grace, then close.
    log.info("matchmaker %s draining", config.replica_id)
    await service.stop()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    uvloop.run(main())  # libuv's loop: cheaper socket I/O and wake-ups; grpc.aio runs on it
