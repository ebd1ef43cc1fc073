"""Parses Hermes/Qwen-style `<tool_call>{json}</tool_call>` output into structured calls."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from services.provider.engine.reasoning import partial_suffix
from services.provider.engine.types import Delta, ToolCall, tool_call_delta

TOOL_OPEN = "<tool_call>"
TOOL_CLOSE = "</tool_call>"
MAX_CALL_CHARS = 64 * 1024


def parse_call(body: str, *, call_id: str, index: int) -> ToolCall | None:
    """`{"name": …, "arguments": {…}}` → ToolCall; None when the body is not such an object."""
    try:
        value = json.loads(body)
    except ValueError:
        return None
    if not isinstance(value, Mapping) or not isinstance(value.get("name"), str):
        return None
    arguments: Any = value.get("arguments", value.get("parameters", {}))
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return None
    if not isinstance(arguments, Mapping):
        return None
    text = json.dumps(arguments, separators=(",", ":"), ensure_ascii=False)
    return ToolCall(id=call_id, name=value["name"], arguments=text, index=index)


class ToolCallParser:
    """Streams content text through; each complete tool-call block becomes a tool_call delta.

    A block whose body does not parse is passed on verbatim as content (never swallowed).
    An unterminated block at the end of the stream is released as content by `flush()`.
    """

    def __init__(self, new_id: Callable[[], str], *, allowed: frozenset[str] | None = None):
        self._new_id = new_id
        self._allowed = allowed
        self._pending = ""
        self._in_call = False
        self.calls: list[ToolCall] = []

    def feed(self, text: str) -> list[Delta]:
        out: list[Delta] = []
        buf = self._pending + text
        while buf:
            if self._in_call:
                end = buf.find(TOOL_CLOSE)
                if end < 0 and len(buf) <= MAX_CALL_CHARS:
                    break
                if end < 0:  # runaway block: give it back as text
                    out.append(Delta("content", TOOL_OPEN + buf))
                    buf, self._in_call = "", False
                    break
                out.append(self._close(buf[:end]))
                buf, self._in_call = buf[end + len(TOOL_CLOSE) :], False
                continue
            start = buf.find(TOOL_OPEN)
            if start >= 0:
                _content(out, buf[:start])
                buf, self._in_call = buf[start + len(TOOL_OPEN) :], True
                continue
            held = partial_suffix(buf, (TOOL_OPEN,))
            _content(out, buf[: len(buf) - held])
            buf = buf[len(buf) - held :]
            break
        self._pending = buf
        return out

    def flush(self) -> list[Delta]:
        out: list[Delta] = []
        _content(out, (TOOL_OPEN if self._in_call else "") + self._pending)
        self._pending, self._in_call = "", False
        return out

    def _close(self, body: str) -> Delta:
        call = parse_call(body.strip(), call_id=self._new_id(), index=len(self.calls))
        if call is None or (self._allowed is not None and call.name not in self._allowed):
            return Delta("content", TOOL_OPEN + body + TOOL_CLOSE)
        self.calls.append(call)
        return tool_call_delta(call)


def _content(out: list[Delta], text: str) -> None:
    if text:
        out.append(Delta("content", text))
