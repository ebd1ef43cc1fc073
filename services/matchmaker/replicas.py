"""Keep the directory and this replica's pool in step: claims, renewals, other replicas' rows."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from cocore.storage import StorageError

from .directory import ProviderDirectory, RemoteRow
from .errors import PoolFull, StreamClosed
from .pool import ProviderKey
from .snapshot import from_snapshot, to_snapshot
from .streams.hub import Hub

log = logging.getLogger("cocore.matchmaker")


class DirectorySync:
    def __init__(self, hub: Hub, directory: ProviderDirectory, interval_s: float) -> None:
        self._hub = hub
        self._directory = directory
        self._interval_s = interval_s
        self._published: dict[ProviderKey, dict[str, Any]] = {}
        self._remote: dict[ProviderKey, tuple[str, str, dict[str, Any]]] = {}

    async def run(self) -> None:
        task = asyncio.current_task()
        while True:
            try:
                await self.sync_once()
            except StorageError as e:  # the database blinked: keep serving, retry next tick
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError from e  # a driver turned our cancel into this
                log.warning("directory sync failed: %s", e.code)
            await asyncio.sleep(self._interval_s)

    async def sync_once(self) -> None:
        hub, directory = self._hub, self._directory
        # One consistent capture before any await: a machine that (re)connects while this
        # runs is claimed by the next sync, never refreshed (or fenced) by this one.
        gone, hub.gone = hub.gone, set()
        claims, hub.claims = hub.claims, set()
        for key in gone:
            self._published.pop(key, None)
        current = self._local_snapshots()
        claimed = {k: current[k] for k in claims if k in current}
        changed = {
            k: snap for k, snap in current.items()
            if k not in claimed and k in self._published and self._published[k] != snap
        }  # fmt: skip
        await directory.withdraw(gone)
        await directory.claim(claimed)
        await directory.refresh(changed)
        self._published.update(claimed | changed)
        self._fence(await directory.renew())
        self._merge(await directory.others())

    def _local_snapshots(self) -> dict[ProviderKey, dict[str, Any]]:
        return {
            key: to_snapshot(stream.entry)
            for key, stream in self._hub.connections.items()
            if stream.entry is not None
        }

    def _fence(self, owned: set[ProviderKey]) -> None:
        """A machine another replica claimed since: our stream for it is stale, close it."""
        for key in [k for k in self._published if k not in owned]:
            del self._published[key]
            stream = self._hub.connections.get(key)
            if stream is not None:
                stream.close(StreamClosed("the machine is connected elsewhere", code="replaced"))

    def _merge(self, rows: list[RemoteRow]) -> None:
        pool, seen = self._hub.pool, set()
        for row in rows:
            seen.add(row.key)
            state = (row.replica_id, row.address, row.snapshot)
            if row.key in self._hub.connections or self._remote.get(row.key) == state:
                continue
            try:
                entry = from_snapshot(
                    row.did, row.machine_id, row.replica_id, row.address, row.snapshot
                )
                pool.add(entry)
            except (KeyError, TypeError, ValueError, IndexError, PoolFull) as e:
                log.warning("directory row skipped: %s", type(e).__name__)
                continue
            self._remote[row.key] = state
        for key in [k for k in self._remote if k not in seen]:
            del self._remote[key]
            found = pool.get(key)
            if found is not None and found.remote:
                pool.remove(found)
