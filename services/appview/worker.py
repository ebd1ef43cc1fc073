"""A source's front (front.py) in a child process: both ends of the pipe between them.

`python -m services.appview.worker` reads a `FrontConfig` as one JSON line on stdin and
writes length-prefixed pickles to stdout: `("chunk", [Frame | Marker | Status, …])` while it
runs, `("failed", why)` if the front stops. It exits when stdin closes (its parent is gone)
or when killed. Pickle is safe here: both ends are this code, over a private pipe.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import json
import os
import pickle
import struct
import sys
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, BinaryIO

import uvloop

from cocore.errors import CocoreError, Unavailable

from .front import Checked, Front, FrontConfig

_HEADER = struct.Struct(">I")
_ROOT = Path(__file__).resolve().parents[2]  # `-m services.appview.worker` runs from here


class IngestWorkerFailed(Unavailable):
    """The child process reading a source stopped; the ingestor restarts it."""

    default_code = "ingest_worker_failed"


async def run_front_in_child(
    config: FrontConfig, emit: Callable[[list[Checked]], Awaitable[None]]
) -> None:
    """Run the front for `config` in a child process, handing its chunks to `emit`."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.appview.worker",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=_ROOT,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(json.dumps(dataclasses.asdict(config)).encode() + b"\n")
        await proc.stdin.drain()  # stdin stays open: its end tells the child we are gone
        while True:
            try:
                (size,) = _HEADER.unpack(await proc.stdout.readexactly(_HEADER.size))
                kind, payload = pickle.loads(await proc.stdout.readexactly(size))  # noqa: S301
            except asyncio.IncompleteReadError:
                break  # the child is gone
            if kind == "failed":
                raise IngestWorkerFailed(f"ingest worker for {config.source}: {payload}")
            await emit(payload)
            await asyncio.sleep(0)  # one chunk per turn of the loop, however much is buffered
    finally:
        await _reap(proc)
    raise IngestWorkerFailed(f"ingest worker for {config.source} exited ({proc.returncode})")


async def _reap(proc: asyncio.subprocess.Process) -> None:
    assert proc.stdin is not None and proc.stdout is not None
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):  # it may have just exited
            proc.kill()
    proc.stdin.close()
    # Read to EOF: a pipe whose reading was paused (its buffer full) would otherwise never
    # see its end, and wait() would never return.
    await proc.stdout.read()
    await proc.wait()


# ---------------------------------------------------------------- the child


def _send(out: BinaryIO, message: tuple[str, Any]) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(_HEADER.pack(len(data)) + data)
    out.flush()


async def _child(config: FrontConfig, out: BinaryIO) -> None:
    async def emit(chunk: list[Checked]) -> None:
        # A full pipe blocks this thread, not the loop (whose websocket still answers pings);
        # the front waits here meanwhile, and back-pressure reaches the socket.
        await asyncio.to_thread(_send, out, ("chunk", chunk))

    try:
        await Front(config, config.validator(), emit).run()
    except (CocoreError, OSError) as e:
        _send(out, ("failed", f"{type(e).__name__}: {e}"))


def _exit_when_orphaned() -> None:
    sys.stdin.buffer.read()  # returns at EOF: the parent closed the pipe or died
    os._exit(0)


# The front allocates a few dicts per record and keeps none: collect the youngest generation
# every 20,000 allocations, not 700 (about a tenth of its CPU otherwise), after freezing what
# start-up allocated.
GC_THRESHOLDS = (20_000, 20, 20)

# Below the serving process: when the cores are busy, queries and the writer come first and
# the firehose waits (its cursor is safe; it catches up when they are idle).
WORKER_NICENESS = 10


def main() -> None:
    os.nice(WORKER_NICENESS)
    line = sys.stdin.buffer.readline()
    values = json.loads(line)
    if values.get("exchanges") is not None:
        values["exchanges"] = tuple(values["exchanges"])
    config = FrontConfig(**values)
    out = sys.stdout.buffer
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    sys.stdout = sys.stderr  # nothing else may write into the pipe
    threading.Thread(target=_exit_when_orphaned, daemon=True).start()
    try:
        uvloop.run(_child(config, out))
    except BrokenPipeError:
        os._exit(0)  # the parent went away mid-write


if __name__ == "__main__":
    main()
