"""Coalesce small plaintext deltas into fewer sealed chunks (fewer frames, fewer seal bytes).

The first delta of a job goes out at once (time to first token matters); after that, deltas
of one channel are joined until `max_bytes` or `max_delay_s`, or the channel changes.
"""

from __future__ import annotations

import time

from cocore.crypto import ReplySealer

from .output import JobOutput
from .types import Channel


class ChunkCoalescer:
    def __init__(
        self,
        out: JobOutput,
        sealer: ReplySealer,
        *,
        max_bytes: int = 512,
        max_delay_s: float = 0.05,
    ) -> None:
        self._out = out
        self._sealer = sealer
        self._max_bytes = max_bytes
        self._max_delay_s = max_delay_s
        self._channel: Channel | None = None
        self._parts: list[bytes] = []
        self._size = 0
        self._since = 0.0
        self._first = True
        self.sealed: list[bytes] = []  # every blob emitted, for the output cipher commitment

    async def add(self, channel: Channel, text: str) -> None:
        if not text:
            return
        if self._channel is not None and channel != self._channel:
            await self.flush()
        if not self._parts:
            self._since = time.monotonic()
        self._channel = channel
        data = text.encode("utf-8")
        self._parts.append(data)
        self._size += len(data)
        due = time.monotonic() - self._since >= self._max_delay_s
        if self._first or self._size >= self._max_bytes or due:
            await self.flush()

    async def flush(self) -> None:
        """Seal and emit what is buffered (call once more at the end of the job)."""
        if not self._parts or self._channel is None:
            return
        blob = self._sealer.seal_chunk(b"".join(self._parts))
        self._parts, self._size, self._first = [], 0, False
        self.sealed.append(blob)
        await self._out.emit(self._channel, blob)
