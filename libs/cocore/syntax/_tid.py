"""TIDs: 13-character sortable timestamp identifiers, and a monotonic generator."""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable

from ._base import _PARSED, SyntaxString, reject, require_str

_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(_ALPHABET)}
_TID_RE = re.compile(r"[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}")
_MAX_CLOCK_ID = 0x3FF
_MAX_MICROS = (1 << 53) - 1


class Tid(SyntaxString):
    """A TID: top bit 0, 53-bit microsecond timestamp, 10-bit clock id, base32-sortable."""

    __slots__ = ()
    kind = "tid"

    @property
    def timestamp_us(self) -> int:
        return _decode(self) >> 10

    @property
    def clock_id(self) -> int:
        return _decode(self) & _MAX_CLOCK_ID


def _decode(s: str) -> int:
    value = 0
    for ch in s:
        value = (value << 5) | _INDEX[ch]
    return value


def is_tid(value: str) -> bool:
    """Whether `value` is a TID, without building one (a hot path's check)."""
    return _TID_RE.fullmatch(value) is not None


def parse_tid(value: object) -> Tid:
    """Parse a 13-character TID."""
    s = require_str("tid", value, 13)
    if not _TID_RE.fullmatch(s):
        raise reject("tid", s, "expected 13 characters of 234567a-z, the first in 2-7a-j")
    return Tid(s, _PARSED)


def tid_from_parts(timestamp_us: int, clock_id: int) -> Tid:
    """Encode a TID from its microsecond timestamp and clock id."""
    if not 0 <= timestamp_us <= _MAX_MICROS:
        raise reject("tid", timestamp_us, "timestamp out of the 53-bit range")
    if not 0 <= clock_id <= _MAX_CLOCK_ID:
        raise reject("tid", clock_id, "clock id out of the 10-bit range")
    v = (timestamp_us << 10) | clock_id
    return Tid("".join(_ALPHABET[(v >> (5 * i)) & 31] for i in range(12, -1, -1)), _PARSED)


class TidClock:
    """Generates strictly increasing TIDs, even when the wall clock stands still or steps back.

    The clock id is fixed per generator (random by default) so two processes rarely collide;
    the time source is injectable so tests can replay a sequence exactly.
    """

    def __init__(
        self,
        now_us: Callable[[], int] | None = None,
        clock_id: int | None = None,
    ) -> None:
        self._now_us = now_us or (lambda: time.time_ns() // 1000)
        self._clock_id = random.SystemRandom().randrange(1024) if clock_id is None else clock_id
        if not 0 <= self._clock_id <= _MAX_CLOCK_ID:
            raise reject("tid", clock_id, "clock id out of the 10-bit range")
        self._last_us = 0
        self._lock = threading.Lock()

    def next(self) -> Tid:
        with self._lock:
            ts = max(self._now_us(), self._last_us + 1)
            self._last_us = ts
        return tid_from_parts(ts, self._clock_id)


_default_clock = TidClock()


def next_tid() -> Tid:
    """A fresh TID from the process-wide monotonic generator."""
    return _default_clock.next()
