"""Backfill: list a repo's cocore records from its PDS the first time the AppView sees it.

Repos wait in the `repos` table (`backfill = pending`), so a crash loses none. A listing is
applied at the repo revision read before it started: whatever the firehose applied since is
newer and wins, and rows the listing did not return (older than that revision) are removed.
Fresh PDS sources are also asked for every repo they host (`listRepos`), so an AppView that
starts late still indexes history.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, or_, select, update

from cocore.atproto import AtprotoClient, AtprotoError, BadResponse, IdentityResolver
from cocore.errors import CocoreError
from cocore.syntax import Did, parse_did, parse_nsid, parse_tid

from .db import new_repo_row, repos, sources
from .ingest import IngestDeps
from .items import Item, Outcome, Prune, WriteBatch
from .translate import record_item

PDS, RELAY = "pds", "relay"
CHUNK_RECORDS = 1000
MAX_RETRY_S = 3600


class Backfiller:
    def __init__(
        self,
        deps: IngestDeps,
        resolver: IdentityResolver,
        source_kinds: Mapping[str, str],
        *,
        on_applied: Callable[[Outcome], None],
        source_ready: Callable[[str], bool],
        concurrency: int = 2,
        poll_s: float = 5.0,
    ) -> None:
        self._deps, self._resolver, self._kinds = deps, resolver, dict(source_kinds)
        self._on_applied, self._ready = on_applied, source_ready
        self._concurrency, self._poll_s = concurrency, poll_s
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        await self._requeue_interrupted()
        while True:
            self._wake.clear()
            try:
                await self._discover()
                claimed = await self._claim(self._concurrency * 4)
            except CocoreError as e:  # the database is down: wait and try again
                self._deps.events.backfill_failed("(queue)", e)
                claimed = []
            if claimed:
                limit = asyncio.Semaphore(self._concurrency)
                await asyncio.gather(*(self._guarded(limit, d, s) for d, s in claimed))
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_s)

    async def _guarded(self, limit: asyncio.Semaphore, did: str, source: str | None) -> None:
        async with limit:
            try:
                await self.backfill(parse_did(did), source)
            except (CocoreError, OSError) as e:
                self._deps.events.backfill_failed(did, e)
                await self._retry_later(did)

    async def backfill(self, did: Did, source: str | None) -> int:
        """List every cocore record of `did` and apply it; returns how many were listed."""
        endpoint = await self._endpoint(did, source)
        transport = self._resolver.transport()
        async with AtprotoClient.anonymous(endpoint, transport=transport) as client:
            latest = await client.xrpc.query("com.atproto.sync.getLatestCommit", {"did": did})
            rev = str(parse_tid(latest.get("rev") if isinstance(latest, dict) else None))
            description = await client.describe_repo(did)
            count = 0
            for collection in description.collections:
                if not collection.startswith("dev.cocore."):
                    continue
                items: list[Item] = []
                async for view in client.iter_records(did, collection):
                    items.append(record_item(
                        self._deps.validator, self._deps.events, uri=view.uri,
                        collection=parse_nsid(collection), repo=did, rkey=view.uri.rkey,
                        rev=rev, cid=view.cid, record=view.value,
                    ))  # fmt: skip
                    count += 1
                    if len(items) >= CHUNK_RECORDS:
                        await self._apply(WriteBatch(items, origin="backfill"))
                        items = []
                await self._apply(WriteBatch(items, origin="backfill"))
        done = WriteBatch(origin="backfill", prune=Prune(did, rev),
                          backfilled=(did, rev, description.handle))  # fmt: skip
        await self._apply(done)
        self._deps.events.backfill_done(did, count, rev)
        return count

    async def _apply(self, batch: WriteBatch) -> None:
        if batch.items or batch.prune or batch.backfilled:
            self._on_applied(await self._deps.writer.apply(batch))

    async def _endpoint(self, did: Did, source: str | None) -> str:
        if source is not None and self._kinds.get(source) == PDS:
            return source  # the PDS whose firehose carried the repo hosts it
        endpoint = await self._resolver.pds_endpoint(did)
        if endpoint is None:
            raise AtprotoError(f"{did} names no PDS in its DID document")
        return endpoint

    # ------------------------------------------------------------ the queue

    async def _requeue_interrupted(self) -> None:
        async with self._deps.db.transaction() as s:
            await s.execute(
                update(repos).where(repos.c.backfill == "running").values(backfill="pending")
            )

    async def _claim(self, n: int) -> list[tuple[str, str | None]]:
        now = self._deps.clock()
        due = or_(repos.c.backfill_retry_at.is_(None), repos.c.backfill_retry_at <= now)
        query = (
            select(repos.c.did, repos.c.source)
            .where(repos.c.backfill == "pending", repos.c.active.is_(True), due)
            .order_by(repos.c.did)
            .limit(n)
            .with_for_update(skip_locked=True)
        )
        async with self._deps.db.transaction() as s:
            rows = (await s.execute(query)).all()
            if rows:
                await s.execute(
                    update(repos)
                    .where(repos.c.did.in_([r.did for r in rows]))
                    .values(backfill="running", backfill_attempts=repos.c.backfill_attempts + 1)
                )
        return [(r.did, r.source) for r in rows]

    async def _retry_later(self, did: str) -> None:
        async with self._deps.db.transaction() as s:
            row = (
                await s.execute(select(repos.c.backfill_attempts).where(repos.c.did == did))
            ).first()
            attempts = int(row.backfill_attempts) if row is not None else 1
            delay = timedelta(seconds=min(2 ** min(attempts, 12), MAX_RETRY_S))
            await s.execute(
                update(repos)
                .where(repos.c.did == did, repos.c.backfill == "running")
                .values(backfill="pending", backfill_retry_at=self._deps.clock() + delay)
            )

    async def _discover(self) -> None:
        async with self._deps.db.session() as s:
            pending = (
                (await s.execute(select(sources.c.name).where(sources.c.discovered.is_(False))))
                .scalars()
                .all()
            )
        for source in pending:
            if not self._ready(source):
                continue  # list only once the firehose is live, so no new repo slips between
            if self._kinds.get(source) == PDS:
                await self._list_repos(source)
            async with self._deps.db.transaction() as s:
                await s.execute(
                    update(sources).where(sources.c.name == source).values(discovered=True)
                )

    async def _list_repos(self, source: str) -> None:
        async with AtprotoClient.anonymous(source) as client:
            cursor: str | None = None
            while True:
                page: dict[str, Any] = await client.xrpc.query(
                    "com.atproto.sync.listRepos", {"limit": 500, "cursor": cursor}
                )
                listed = page.get("repos") if isinstance(page, dict) else None
                if not isinstance(listed, list):
                    raise BadResponse("com.atproto.sync.listRepos: no repos list")
                dids = [
                    str(parse_did(r.get("did"))) for r in listed
                    if isinstance(r, dict) and r.get("active", True)
                ]  # fmt: skip
                await self._enqueue(source, dids)
                cursor = page.get("cursor")
                if not cursor or not dids:
                    return

    async def _enqueue(self, source: str, dids: list[str]) -> None:
        now = self._deps.clock()
        async with self._deps.db.transaction() as s:
            known = set(
                (await s.execute(select(repos.c.did).where(repos.c.did.in_(dids)))).scalars()
            )
            new = [d for d in dids if d not in known]
            if new:
                await s.execute(insert(repos), [new_repo_row(d, source, now) for d in new])
        if new:
            self.wake()
