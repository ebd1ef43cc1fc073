"""Splits `<think>…</think>` out of streamed text into a reasoning channel, safe across chunks."""

from __future__ import annotations

from services.provider.engine.types import Channel

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"


def partial_suffix(text: str, markers: tuple[str, ...]) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of one of `markers`."""
    best = 0
    for marker in markers:
        for n in range(min(len(marker) - 1, len(text)), best, -1):
            if marker.startswith(text[-n:]):
                best = n
                break
    return best


class ThinkSplitter:
    """The reference's splitter (§3.7): outside, `<think>` opens; inside, `</think>` closes and a
    redundant `<think>` is dropped; a tail that could start a marker is held back until the
    next piece decides it; `flush()` releases it as literal text on the current channel."""

    def __init__(self, *, start_inside: bool = False) -> None:
        self.inside = start_inside
        self._pending = ""

    @property
    def channel(self) -> Channel:
        return "reasoning" if self.inside else "content"

    def feed(self, text: str) -> list[tuple[Channel, str]]:
        out: list[tuple[Channel, str]] = []
        buf = self._pending + text
        while buf:
            if self.inside:
                close, reopen = buf.find(THINK_CLOSE), buf.find(THINK_OPEN)
                if close >= 0 and (reopen < 0 or close <= reopen):
                    _emit(out, "reasoning", buf[:close])
                    buf, self.inside = buf[close + len(THINK_CLOSE) :], False
                    continue
                if reopen >= 0:
                    _emit(out, "reasoning", buf[:reopen])
                    buf = buf[reopen + len(THINK_OPEN) :]
                    continue
                held = partial_suffix(buf, (THINK_CLOSE, THINK_OPEN))
            else:
                start = buf.find(THINK_OPEN)
                if start >= 0:
                    _emit(out, "content", buf[:start])
                    buf, self.inside = buf[start + len(THINK_OPEN) :], True
                    continue
                held = partial_suffix(buf, (THINK_OPEN,))
            _emit(out, self.channel, buf[: len(buf) - held])
            buf = buf[len(buf) - held :]
            break
        self._pending = buf
        return out

    def flush(self) -> list[tuple[Channel, str]]:
        out: list[tuple[Channel, str]] = []
        _emit(out, self.channel, self._pending)
        self._pending = ""
        return out


def _emit(out: list[tuple[Channel, str]], channel: Channel, text: str) -> None:
    if text:
        out.append((channel, text))
