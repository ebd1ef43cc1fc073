"""Sealed chunks → plaintext deltas, opened with the attempt's `ReplyOpener`.

Also hashes the sealed bytes in seq order: when the completion carries the provider's
`outputCipherCommitment`, a mismatch means the bytes were changed on the way.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from cocore.crypto import CryptoError, ReplyOpener

from .errors import ProviderError
from .matchmaker_client import REASONING, TOOL_CALL

MAX_TOOL_CALLS = 128


@dataclass(frozen=True, slots=True)
class Delta:
    content: str = ""
    reasoning: str = ""
    tool_calls: tuple[dict[str, Any], ...] = ()


@dataclass
class Opened:
    """Everything opened so far for one job."""

    opener: ReplyOpener
    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    next_seq: int = 0
    _cipher: Any = field(default_factory=hashlib.sha256)

    def open(self, first_seq: int, chunks: list[tuple[int, bytes]]) -> list[Delta]:
        if first_seq != self.next_seq:
            raise ProviderError("chunks arrived out of order", code="chunk_sequence")
        deltas = []
        for channel, sealed in chunks:
            self._cipher.update(sealed)
            try:
                text = self.opener.open_chunk(sealed).decode("utf-8")
            except (CryptoError, UnicodeDecodeError):
                raise ProviderError(
                    "a reply chunk did not open", code="chunk_decrypt_failed"
                ) from None
            deltas.append(self._delta(channel, text))
        self.next_seq += len(chunks)
        return deltas

    def _delta(self, channel: int, text: str) -> Delta:
        if channel == REASONING:
            self.reasoning.append(text)
            return Delta(reasoning=text)
        if channel == TOOL_CALL:
            calls = _tool_calls(text, len(self.tool_calls))
            self.tool_calls.extend(calls)
            if len(self.tool_calls) > MAX_TOOL_CALLS:
                raise ProviderError("too many tool calls", code="tool_calls_invalid")
            return Delta(tool_calls=tuple(calls))
        self.content.append(text)
        return Delta(content=text)

    def cipher_commitment(self) -> str:
        return str(self._cipher.hexdigest())


def _tool_calls(text: str, start: int) -> list[dict[str, Any]]:
    """The provider sends OpenAI `delta.tool_calls` JSON: one call object or a list of them."""
    try:
        value = json.loads(text)
    except ValueError:
        raise ProviderError("a tool-call chunk is not JSON", code="tool_calls_invalid") from None
    items = value if isinstance(value, list) else [value]
    calls = []
    for offset, item in enumerate(items):
        function = item.get("function") if isinstance(item, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise ProviderError("a tool call has no function name", code="tool_calls_invalid")
        arguments = function.get("arguments", "{}")
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments, separators=(",", ":"))
        calls.append({
            "index": start + offset, "id": str(item.get("id") or f"call_{start + offset}"),
            "type": "function", "function": {"name": function["name"], "arguments": arguments},
        })  # fmt: skip
    return calls
