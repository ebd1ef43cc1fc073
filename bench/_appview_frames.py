"""A recorded firehose for bench/appview: synthesised `#commit` frames and a server replaying them.

Frames are built like a PDS builds them (`synthesise` in tests/services/appview/firehose.py)
and go through the real consumer's decode path. Mix: receipts created in provider repos, jobs
in requester repos, and every tenth commit deletes an earlier receipt.
"""

from __future__ import annotations

import asyncio
import struct
import sys
from pathlib import Path

from tests.services.appview.firehose import did, firehose, synthesise

__all__ = ["did", "load", "save", "synthesise"]


def save(frames: list[bytes], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        for frame in frames:
            f.write(struct.pack(">I", len(frame)) + frame)


def load(path: Path) -> list[bytes]:
    data, frames, pos = path.read_bytes(), [], 0
    while pos < len(data):
        (size,) = struct.unpack_from(">I", data, pos)
        frames.append(data[pos + 4 : pos + 4 + size])
        pos += 4 + size
    return frames


async def _serve(path: Path) -> None:
    """Replay the frames after the client's cursor, then hold the connection open."""
    async with firehose(load(path)) as url:
        print(f"port={url.rsplit(':', 1)[1]}", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(_serve(Path(sys.argv[1])))
