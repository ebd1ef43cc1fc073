"""Checking each firehose commit's signature against its repo's current `#atproto` key.

Keys are resolved from DID documents once and kept. A repo's `#identity` event may announce a
new key, so it drops the kept one; a signature that fails under a kept key is tried once more
under a freshly resolved one (at most once a minute per repo, so forged frames cannot make
us hammer the directory). A commit that still fails, or whose key cannot be had, becomes an
`UnverifiedCommit` in place of its ops.

Read straight from a PDS (`host`), a repo whose DID document names that PDS as its host
needs no signature check: the host holds the repo's key and is the authority on it, so a
signature could only repeat what the host says. Every other repo on that stream, and every
commit from a relay, is checked.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import TypeVar
from urllib.parse import urlsplit

from cocore.errors import CocoreError
from cocore.syntax import Did

from .events import Batch, IdentityEvent, UnverifiedCommit
from .identity import IdentityResolver
from .keys import AtprotoKey

T = TypeVar("T")
REFRESH_INTERVAL_S = 60.0
MAX_KEYS = 100_000


class CommitSignatures:
    """`check` a run of firehose items in order; anything that is not a `Batch` passes."""

    def __init__(
        self,
        resolver: IdentityResolver,
        *,
        host: str | None = None,
        refresh_interval_s: float = REFRESH_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._resolver, self._refresh_s, self._clock = resolver, refresh_interval_s, clock
        self._host = None if host is None else origin(host)
        self._keys: dict[Did, AtprotoKey] = {}
        self._hosted: set[Did] = set()  # repos whose document names `host` as their PDS
        self._fetched_at: dict[Did, float] = {}  # when each repo's key was last fetched
        self._stale: set[Did] = set()  # repos whose document changed since: fetch it afresh

    async def check(self, items: Sequence[T]) -> list[T]:
        await self._prefetch(items)
        out: list[T] = []
        for item in items:
            verdict = None
            if isinstance(item, Batch) and item.commit is not None:
                verdict = await self._verify(item)
            elif isinstance(item, Batch):
                for event in item.events:
                    if isinstance(event, IdentityEvent):  # its key or host may have changed
                        self._keys.pop(event.did, None)
                        self._hosted.discard(event.did)
                        self._stale.add(event.did)
            out.append(item if verdict is None else Batch(verdict.seq, (verdict,)))  # type: ignore[arg-type]
        return out

    async def _prefetch(self, items: Sequence[object]) -> None:
        """Resolve the keys of repos not seen before side by side, not one after another."""
        new = {
            i.commit.did for i in items
            if isinstance(i, Batch) and i.commit is not None and i.commit.did not in self._keys
        }  # fmt: skip
        if new:
            fetches = (self._key(did, fresh=did in self._stale) for did in new)
            await asyncio.gather(*fetches, return_exceptions=True)

    async def _verify(self, batch: Batch) -> UnverifiedCommit | None:
        commit = batch.commit
        assert commit is not None and batch.seq is not None
        did = commit.did
        try:
            key = self._keys.get(did) or await self._key(did, fresh=did in self._stale)
            if did in self._hosted or commit.verify(key):
                return None
            if self._may_refresh(did):
                key = await self._key(did, fresh=True)
                if commit.verify(key):
                    return None
        except CocoreError as e:
            return UnverifiedCommit(
                batch.seq, did, "signing-key-unavailable", e.message[:200], _time(batch)
            )
        detail = f"rev {commit.rev} is not signed by the repo's #atproto key"
        return UnverifiedCommit(batch.seq, did, "bad-signature", detail, _time(batch))

    def _may_refresh(self, did: Did) -> bool:
        last = self._fetched_at.get(did)
        return last is None or self._clock() - last >= self._refresh_s

    async def _key(self, did: Did, *, fresh: bool = False) -> AtprotoKey:
        identity = await self._resolver.resolve_atproto(did, fresh=fresh)
        key, endpoint = identity.signing_key, identity.pds
        self._stale.discard(did)
        if len(self._keys) >= MAX_KEYS or len(self._stale) >= MAX_KEYS:
            self._keys.clear()
            self._hosted.clear()
            self._fetched_at.clear()
            self._stale.clear()
        self._keys[did] = key
        if self._host is not None and endpoint is not None and origin(endpoint) == self._host:
            self._hosted.add(did)
        else:
            self._hosted.discard(did)
        self._fetched_at[did] = self._clock()
        return key


def _time(batch: Batch) -> str:
    return next((str(getattr(e, "time", "")) for e in batch.events), "")


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a URL, the port filled in for http and https."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return (
        scheme,
        (parts.hostname or "").lower(),
        parts.port or {"http": 80, "https": 443}.get(scheme),
    )
