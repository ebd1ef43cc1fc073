"""`serve` (until SIGTERM/SIGINT, then drain), `status` and `doctor`."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import uvloop

from .. import status as status_file
from ..config import ProviderConfig
from ..home import Home
from ..host import measure

if TYPE_CHECKING:
    from ..agent import Agent
from .output import out


def register(commands: Any) -> None:
    serve = commands.add_parser("serve", help="serve jobs until SIGTERM or Ctrl-C")
    serve.set_defaults(run=run_serve)
    status = commands.add_parser("status", help="what the serving agent is doing")
    status.add_argument("--json", action="store_true", help="print the raw status file")
    status.set_defaults(run=run_status)
    doctor = commands.add_parser("doctor", help="check keys, PDS, matchmaker, models, attestation")
    doctor.add_argument("--no-load", action="store_true", help="do not load the models")
    doctor.set_defaults(run=run_doctor)


def run_serve(_args: argparse.Namespace) -> int:
    config = ProviderConfig.load(os.environ)
    logging.basicConfig(
        level=config.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    from ..agent import Agent  # noqa: PLC0415 — keeps `status` and `init` quick to start

    agent = Agent(config)
    uvloop.run(_serve(agent))  # libuv's loop: cheaper link I/O and wake-ups; grpc.aio runs on it
    return 0


async def _serve(agent: Agent) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    try:
        starting = asyncio.ensure_future(agent.start())
        waiter = asyncio.ensure_future(stopping.wait())
        await asyncio.wait({starting, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():  # a signal during boot: stop booting
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
        else:
            starting.result()
            logging.getLogger("cocore.provider").info("serving; SIGTERM or Ctrl-C drains")
            await waiter
    finally:
        await agent.stop()


def run_status(args: argparse.Namespace) -> int:
    home = Home(ProviderConfig.load(os.environ).home)
    current = status_file.read(home)
    if args.json:
        out(json.dumps(current, indent=2, sort_keys=True))
        return 0
    for line in status_file.describe(current, datetime.now(UTC)):
        out(line)
    return 0


def run_doctor(args: argparse.Namespace) -> int:
    from ..doctor import Doctor  # noqa: PLC0415 — keeps `status` and `init` quick to start

    config = ProviderConfig.load(os.environ)
    checks = asyncio.run(Doctor(config, measure(), load_models=not args.no_load).run())
    for check in checks:
        out(check.line())
    failed = [c for c in checks if c.ok is False]
    out(f"doctor: {len(checks) - len(failed)} ok, {len(failed)} failing")
    return 1 if failed else 0
