"""Run a started server until SIGTERM/SIGINT, then drain it within the grace period."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from cocore.rpc.server import RunningServer

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def run_until_signal(
    running: RunningServer,
    grace_s: float | None = None,
    *,
    stop: asyncio.Event | None = None,
    signals: Iterable[signal.Signals] = STOP_SIGNALS,
    on_ready: Callable[[], object] | None = None,
) -> None:
    """Serve until a stop signal (or `stop` is set, or the server ends), then `running.stop()`.

    On the signal health turns NOT_SERVING, new calls are refused and in-flight calls get
    `grace_s` (default: the config's) to finish before they are cancelled. Setting `stop`
    takes the same path without a signal, which is how tests drive it. `on_ready` runs
    once the signal handlers are in place (announce readiness there, not before).
    """
    stop = stop if stop is not None else asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = list(signals)
    for sig in installed:
        loop.add_signal_handler(sig, _on_signal, sig, stop)
    try:
        if on_ready is not None:
            on_ready()
        await _first_of(stop.wait(), running.wait_for_termination())
        # Handlers stay installed while draining: a second signal must not kill the drain.
        await running.stop(grace_s)
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
    log.info("server on %s stopped", running.address)


def _on_signal(sig: signal.Signals, stop: asyncio.Event) -> None:
    if not stop.is_set():
        log.info("received %s; draining", sig.name)
    stop.set()


async def _first_of(*awaitables: Awaitable[Any]) -> None:
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
