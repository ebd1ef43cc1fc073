"""Engine deltas → sealed chunks: coalesced, committed to, and emitted in order.

The first delta goes out at once (time to first token); after that, text on one channel is
joined until `flush_tokens` pieces, `max_bytes`, or `flush_s` since the oldest buffered piece —
whichever comes first — so a fast engine sends a chunk per ~20 ms, not one per token, and a
slow one still sends every token within `flush_s`. A channel change or a tool call flushes
first, so the sealed chunks keep the engine's order. Commitments: content and reasoning over
their plaintext, and the cipher commitment over every sealed blob in emit (= seq) order.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from cocore.crypto import OutputHasher, ReplySealer

from ..engine import Delta, ToolCall
from ..link import Channel, JobOutput

CHANNELS = {"content": Channel.CONTENT, "reasoning": Channel.REASONING}


class ChunkWriter:
    def __init__(
        self,
        out: JobOutput,
        sealer: ReplySealer,
        *,
        flush_s: float,
        flush_tokens: int,
        max_bytes: int = 16 * 1024,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._out = out
        self._sealer = sealer
        self._flush_s = flush_s
        self._flush_tokens = flush_tokens
        self._max_bytes = min(max_bytes, out.limits.max_chunk_bytes - 64)
        self._clock = clock or asyncio.get_running_loop().time
        self._channel: Channel | None = None
        self._parts: list[bytes] = []
        self._size = 0
        self._since = 0.0
        self.content = OutputHasher()
        self.reasoning = OutputHasher()
        self.cipher = OutputHasher()
        self.chunks = 0
        self.tool_calls: list[ToolCall] = []

    def deadline(self) -> float | None:
        """When the buffer must be flushed (on the writer's clock), or None when it is empty."""
        return self._since + self._flush_s if self._parts else None

    async def add(self, delta: Delta) -> None:
        if delta.tool_call is not None or delta.channel == "tool_call":
            if delta.tool_call is not None:
                await self.tool_call(delta.tool_call)
            return
        if not delta.text:
            return
        channel = CHANNELS[delta.channel]
        (self.content if channel is Channel.CONTENT else self.reasoning).update_text(delta.text)
        if self._channel is not None and channel != self._channel:
            await self.flush()
        if not self._parts:
            self._since = self._clock()
        self._channel = channel
        data = delta.text.encode("utf-8")
        self._parts.append(data)
        self._size += len(data)
        if (
            self.chunks == 0
            or len(self._parts) >= self._flush_tokens
            or self._size >= self._max_bytes
            or self._clock() - self._since >= self._flush_s
        ):
            await self.flush()

    async def tool_call(self, call: ToolCall) -> None:
        """One complete call, as the JSON array OpenAI puts in `delta.tool_calls`."""
        await self.flush()
        self.tool_calls.append(call)
        text = json.dumps([call.to_openai()], separators=(",", ":"), ensure_ascii=False)
        await self._emit(Channel.TOOL_CALL, text.encode("utf-8"))

    async def flush(self) -> None:
        if not self._parts or self._channel is None:
            return
        data, channel = b"".join(self._parts), self._channel
        self._parts, self._size = [], 0
        await self._emit(channel, data)

    async def _emit(self, channel: Channel, plaintext: bytes) -> None:
        blob = self._sealer.seal_chunk(plaintext)
        self.cipher.update_bytes(blob)
        self.chunks += 1
        await self._out.emit(channel, blob)
