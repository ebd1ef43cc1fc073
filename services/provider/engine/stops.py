"""Stop strings matched on decoded text, so a stop split across tokens is still caught."""

from __future__ import annotations

from collections.abc import Sequence

from services.provider.engine.reasoning import partial_suffix


class StopMatcher:
    """Feeds decoded text; releases what cannot be the start of a stop string.

    Once a stop string is seen, `stopped` is set and nothing at or after it is ever
    released — the stop text never leaks into the output.
    """

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = tuple(s for s in stops if s)
        self._pending = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        if self.stopped:
            return ""
        if not self._stops:
            return text
        buf = self._pending + text
        hits = [i for i in (buf.find(s) for s in self._stops) if i >= 0]
        if hits:
            self.stopped, self._pending = True, ""
            return buf[: min(hits)]
        held = partial_suffix(buf, self._stops)
        self._pending = buf[len(buf) - held :]
        return buf[: len(buf) - held]

    def flush(self) -> str:
        """At a natural end (EOS, max_tokens) a held-back prefix was real output after all."""
        text, self._pending = self._pending, ""
        return "" if self.stopped else text
