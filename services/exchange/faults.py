"""Named crash points for the crash test: the process kills itself (SIGKILL) at an armed one.

Production never arms one; `COCORE_EXCHANGE_CRASH_AT` is refused outside the dev environment.
"""

from __future__ import annotations

import os
import signal

POINTS = ("settle.before_commit", "settle.after_commit", "outbox.after_put", "admit.before_commit")
_armed: str | None = None


def arm(point: str | None) -> None:
    global _armed  # noqa: PLW0603 - process-wide by design: it models the process dying
    assert point is None or point in POINTS, f"unknown crash point {point!r}"
    _armed = point


def hit(point: str) -> None:
    assert point in POINTS
    if _armed == point:
        os.kill(os.getpid(), signal.SIGKILL)
