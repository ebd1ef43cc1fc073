"""In-memory indexes of the pool so a pick touches a few candidates, not every machine."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from .entry import ProviderEntry, ProviderKey

T = TypeVar("T")


class IndexedSet(Generic[T]):
    """A set with O(1) add, discard and positional access (for random sampling)."""

    __slots__ = ("_items", "_pos")

    def __init__(self) -> None:
        self._items: list[T] = []
        self._pos: dict[T, int] = {}

    def add(self, item: T) -> None:
        if item not in self._pos:
            self._pos[item] = len(self._items)
            self._items.append(item)

    def discard(self, item: T) -> None:
        index = self._pos.pop(item, None)
        if index is None:
            return
        last = self._items.pop()
        if index < len(self._items):  # move the last item into the hole
            self._items[index] = last
            self._pos[last] = index

    def __contains__(self, item: object) -> bool:
        return item in self._pos

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> T:
        return self._items[index]

    def __iter__(self) -> Iterator[T]:
        return iter(self._items)


class PoolIndex:
    """Every entry by key and DID; per model (and model × country) all entries and open ones.

    "Open" means it has a free slot and is not draining; time-based conditions (attestation
    age, cooldown) are checked per candidate at pick time.
    """

    def __init__(self) -> None:
        self.by_key: dict[ProviderKey, ProviderEntry] = {}
        self.by_did: dict[str, dict[str, ProviderEntry]] = {}
        self.by_model: dict[str, IndexedSet[ProviderEntry]] = {}
        self.open_by_model: dict[str, IndexedSet[ProviderEntry]] = {}
        self.open_by_country: dict[tuple[str, str], IndexedSet[ProviderEntry]] = {}

    def __len__(self) -> int:
        return len(self.by_key)

    def add(self, entry: ProviderEntry) -> None:
        self.by_key[entry.key] = entry
        self.by_did.setdefault(entry.did, {})[entry.machine_id] = entry
        for model in entry.models:
            self.by_model.setdefault(model, IndexedSet()).add(entry)
        self.refresh(entry)

    def remove(self, entry: ProviderEntry) -> None:
        if self.by_key.get(entry.key) is not entry:
            return
        del self.by_key[entry.key]
        machines = self.by_did.get(entry.did, {})
        machines.pop(entry.machine_id, None)
        if not machines:
            self.by_did.pop(entry.did, None)
        for model in entry.models:
            _discard(self.by_model, model, entry)
        self._close(entry)

    def refresh(self, entry: ProviderEntry) -> None:
        """Re-file `entry` in the open indexes after its slots or draining state changed."""
        if self.by_key.get(entry.key) is not entry:
            return
        if not entry.is_open():
            self._close(entry)
            return
        for model in entry.models:
            self.open_by_model.setdefault(model, IndexedSet()).add(entry)
            if entry.country:
                self.open_by_country.setdefault((model, entry.country), IndexedSet()).add(entry)

    def _close(self, entry: ProviderEntry) -> None:
        for model in entry.models:
            _discard(self.open_by_model, model, entry)
            if entry.country:
                _discard(self.open_by_country, (model, entry.country), entry)


def _discard(index: dict[T, IndexedSet[ProviderEntry]], key: T, entry: ProviderEntry) -> None:
    found = index.get(key)
    if found is not None:
        found.discard(entry)
        if not found:
            del index[key]
