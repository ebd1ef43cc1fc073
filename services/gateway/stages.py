"""Per-stage timing of the paid path: each lap goes to `events.stage` (histogram + debug line)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from . import events

T = TypeVar("T")


class Stopwatch:
    """Laps of one request. `lap` times the stretch since the last lap; `timed` one await."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self.started = self._last = clock()

    def lap(self, stage: str) -> None:
        now = self._clock()
        events.stage(stage, now - self._last)
        self._last = now

    def since_start(self, stage: str) -> None:
        events.stage(stage, self._clock() - self.started)

    async def timed(self, stage: str, step: Awaitable[T]) -> T:
        """Await `step` and record how long it took, failed or not (concurrent steps each
        get their own line, so the slowest of a `gather` is visible)."""
        start = self._clock()
        try:
            return await step
        finally:
            events.stage(stage, self._clock() - start)
