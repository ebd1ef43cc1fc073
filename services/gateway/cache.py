"""A small TTL cache (per-entry TTL override, bounded size) for the request path."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    def __init__(
        self, ttl_s: float, clock: Callable[[], float] | None = None, max_entries: int = 100_000
    ) -> None:
        self.ttl_s = ttl_s
        self._clock = clock or time.monotonic
        self._max = max_entries
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> tuple[bool, V | None]:
        entry = self._items.get(key)
        if entry is None:
            return False, None
        if entry[0] <= self._clock():
            del self._items[key]
            return False, None
        return True, entry[1]

    def put(self, key: K, value: V, ttl_s: float | None = None) -> None:
        self._items[key] = (self._clock() + (self.ttl_s if ttl_s is None else ttl_s), value)
        self._items.move_to_end(key)
        while len(self._items) > self._max:
            self._items.popitem(last=False)

    def pop(self, key: K) -> None:
        self._items.pop(key, None)

    def update(self, change: Callable[[V], V]) -> None:
        """Replace every live value with `change(value)`, keeping its expiry."""
        for key, (expires, value) in list(self._items.items()):
            self._items[key] = (expires, change(value))

    def clear(self) -> None:
        self._items.clear()
