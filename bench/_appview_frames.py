"""A recorded firehose for bench/appview: synthesised `#commit` frames and a server replaying them.

Frames are built like a PDS builds them (`synthesise` in tests/services/appview/firehose.py):
signed commits with the tree nodes on each op's path, checked by the real consumer path. The
replay server also answers DID document requests, as the PLC directory would. Mix: receipts
created in provider repos, jobs in requester repos, and every tenth commit deletes an earlier
receipt.
"""

from __future__ import annotations

import asyncio
import struct
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve

from tests.services.appview.firehose import did, did_documents, synthesise

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


def _ws_frame(payload: bytes) -> bytes:
    """`payload` as one unmasked binary WebSocket frame (RFC 6455 §5.2), as a server sends it."""
    n = len(payload)
    if n < 126:
        return bytes((0x82, n)) + payload
    if n < 1 << 16:
        return struct.pack(">BBH", 0x82, 126, n) + payload
    return struct.pack(">BBQ", 0x82, 127, n) + payload


WRITE_BYTES = 1 << 20  # per transport write
HIGH_WATER = 8 << 20  # unsent bytes at which the replay waits for the consumer


async def _serve(path: Path) -> None:
    """Replay the frames after the client's cursor, then hold the connection open.

    The frames are framed for the wire once, up front, and written to the socket a megabyte
    at a time: the bench measures the consumer, and on two cores a replay that spent CPU per
    message (websockets' send path) would take it from the process being measured."""
    framed = [_ws_frame(f) for f in load(path)]

    async def handler(ws: ServerConnection) -> None:
        query = parse_qs(urlsplit(ws.request.path if ws.request else "").query)
        cursor = int(query.get("cursor", ["0"])[0])
        transport = ws.transport
        pending: list[bytes] = []
        size = 0
        for frame in framed[cursor:]:
            pending.append(frame)
            size += len(frame)
            if size >= WRITE_BYTES:
                transport.write(b"".join(pending))
                pending, size = [], 0
                while transport.get_write_buffer_size() > HIGH_WATER:
                    if transport.is_closing():
                        return
                    await asyncio.sleep(0.002)
        transport.write(b"".join(pending))
        await ws.wait_closed()

    async with serve(
        handler, "127.0.0.1", 0, max_size=None, compression=None, process_request=did_documents
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(f"port={port}", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(_serve(Path(sys.argv[1])))
