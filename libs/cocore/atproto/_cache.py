"""A bounded LRU cache whose entries expire after a TTL measured on an injected clock."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Entry(Generic[V]):
    """A cached answer: a value, or the error a lookup raised (negative caching)."""

    value: V | None
    error: Exception | None
    expires_at: float


class TtlCache(Generic[K, V]):
    """At most `max_entries` entries; the least recently used one is dropped first."""

    def __init__(self, max_entries: int, clock: Clock = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[K, Entry[V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> Entry[V] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires_at <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry

    def put(self, key: K, value: V, ttl_s: float) -> None:
        self._store(key, Entry(value, None, self._clock() + ttl_s))

    def put_error(self, key: K, error: Exception, ttl_s: float) -> None:
        self._store(key, Entry(None, error, self._clock() + ttl_s))

    def discard(self, key: K) -> None:
        self._entries.pop(key, None)

    def _store(self, key: K, entry: Entry[V]) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
