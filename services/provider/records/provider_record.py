"""The `compute.provider` record: one per machine, found again by its key, updated by CAS.

The agent owns only its own fields. Every write starts from the record as the PDS has it now,
overlays the agent's fields, drops agent fields it no longer emits (a cleared fault must not
linger), never touches the owner's fields (`active`, `proBono`, `desiredModels`, …), and is a
`putRecord` with `swapRecord` = the CID just read: an owner's edit in between makes the swap
fail, and the agent re-reads and merges again instead of overwriting it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cocore.atproto import AtprotoClient, RecordView, XrpcNotFound, XrpcSwapMismatch
from cocore.lexicon import ids
from cocore.syntax import Cid, Did, RecordKey, next_tid, parse_record_key

from ..errors import RecordConflict

log = logging.getLogger("cocore.provider.record")

OWNER_KEYS = frozenset({
    "active", "payoutsEnabled", "desiredModels", "desiredTier", "proBono", "shareLocation",
    "toolCalls", "toolCallsDisabled", "acceptedExchanges", "contactEndpoint",
})  # fmt: skip
# Agent fields that are absent when there is nothing to say: dropped if not emitted this time.
AGENT_OPTIONAL_KEYS = frozenset({
    "gpuCores", "memoryBandwidthGBs", "cpuCores", "pCores", "eCores", "modelIdentifier", "os",
    "machineFingerprint", "tier", "binaryVersion", "provisioning", "serving", "engineFault",
    "attestationFault", "advisorFault", "region", "regionSource", "regionObservedAt",
})  # fmt: skip
MAX_SWAP_ATTEMPTS = 6


@dataclass(frozen=True, slots=True)
class Published:
    rkey: RecordKey
    cid: Cid
    value: dict[str, Any]  # the record as written (owner fields included)


def merge(current: Mapping[str, Any] | None, agent: Mapping[str, Any]) -> dict[str, Any]:
    """The record to write: `current` with the agent's fields laid over it."""
    base = dict(current or {})
    for key in AGENT_OPTIONAL_KEYS:
        if key not in agent:
            base.pop(key, None)
    for key, value in agent.items():
        if key not in OWNER_KEYS and not (key == "createdAt" and "createdAt" in base):
            base[key] = value
    base["$type"] = ids.COMPUTE_PROVIDER
    return base


def is_mine(view: RecordView, attestation_pub_key: str, cached_rkey: str | None) -> bool:
    value = view.value
    if value.get("attestationPubKey") == attestation_pub_key:
        return True
    return cached_rkey is not None and view.uri.rkey == cached_rkey


class ProviderRecord:
    """Finds this machine's record and keeps it current; `publish(fields)` is safe to call often."""

    def __init__(
        self,
        client: AtprotoClient,
        attestation_pub_key: str,
        *,
        cached_rkey: str | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._client = client
        self._key = attestation_pub_key
        self.rkey: RecordKey | None = parse_record_key(cached_rkey) if cached_rkey else None
        self._sleep = sleep
        self.last: Published | None = None

    @property
    def did(self) -> Did:
        return self._client.did

    async def find(self) -> RecordView | None:
        """This machine's record (by attestationPubKey, or the cached rkey); duplicates of it
        from earlier installs are deleted so the repo keeps one record per machine."""
        mine = [
            view
            async for view in self._client.iter_records(self.did, ids.COMPUTE_PROVIDER)
            if is_mine(view, self._key, self.rkey)
        ]
        if not mine:
            return None
        chosen = next((v for v in mine if v.uri.rkey == self.rkey), None)
        if chosen is None:
            chosen = max(mine, key=lambda v: str(v.value.get("createdAt", "")))
        for view in mine:
            if view is not chosen:
                await self._client.delete_record(
                    ids.COMPUTE_PROVIDER, view.uri.rkey, swap_record=view.cid
                )
        self.rkey = parse_record_key(chosen.uri.rkey)
        return chosen

    async def read(self) -> RecordView | None:
        """The current record (None when it does not exist yet)."""
        if self.rkey is None:
            return await self.find()
        try:
            return await self._client.get_record(self.did, ids.COMPUTE_PROVIDER, self.rkey)
        except XrpcNotFound:
            return None

    async def publish(self, agent_fields: Mapping[str, Any]) -> Published:
        """Merge and compare-and-swap; retries when someone else wrote in between."""
        for attempt in range(1, MAX_SWAP_ATTEMPTS + 1):
            current = await self.read()
            if current is None and self.rkey is None:
                self.rkey = parse_record_key(next_tid())
            assert self.rkey is not None
            record = merge(current.value if current else None, agent_fields)
            try:
                result = await self._client.put_record(
                    ids.COMPUTE_PROVIDER, self.rkey, record,
                    swap_record=current.cid if current else None,
                )  # fmt: skip
            except XrpcSwapMismatch:
                log.info("provider record changed under us; merging again (%d)", attempt)
                await self._sleep(0.05 * attempt)
                continue
            self.last = Published(self.rkey, result.cid, record)
            return self.last
        raise RecordConflict("the provider record kept changing; gave up this update")
