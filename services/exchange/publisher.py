"""The outbox publisher: puts every outbox record into the exchange's repo, in order, retrying.

A record's rkey and CID were fixed when its row was written, so publishing is idempotent: a
replay after a crash (the PDS took the write, the row was not yet marked) puts the same
record at the same rkey again. A PDS outage only delays: rows wait with exponential backoff
and nothing is dropped. Rows for one URI (a policy flipped inactive, a dispute resolved)
are published strictly in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, update

from cocore.atproto import AtprotoClient, AtprotoError, Create
from cocore.errors import CocoreError
from cocore.storage import Database
from cocore.syntax import parse_nsid, parse_record_key

from . import db, events, faults

OUTBOX = db.OUTBOX
WRITE_BATCH = 100  # a PDS takes at most 200 writes per applyWrites


@dataclass(frozen=True, slots=True)
class _Row:
    seq: int
    collection: str
    rkey: str
    uri: str
    cid: str
    record: dict[str, Any]
    attempts: int
    next_attempt_at: datetime


class Publisher:
    """`run()` until cancelled; `wake()` after a commit; `publish_due()` does one round."""

    def __init__(
        self,
        database: Database,
        connect: Callable[[], Awaitable[AtprotoClient]],
        clock: Callable[[], datetime],
        *,
        rng: random.Random | None = None,
        max_backoff_s: float = 300.0,
        idle_s: float = 5.0,
    ) -> None:
        self.db = database
        self._connect = connect
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - retry jitter
        self._max_backoff_s = max_backoff_s
        self._idle_s = idle_s
        self._wake = asyncio.Event()
        self._client: AtprotoClient | None = None

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                published = await self.publish_due()
            except CocoreError as e:  # the database, say: try again next round, never stop
                events.source_error("outbox", e.code)
                published = 0
            if published == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._idle_s)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def publish_due(self) -> int:
        """Publish what is due now; returns how many rows were published."""
        rows = await self._due()
        if not rows:
            return 0
        try:
            client = await self._client_or_connect()
        except CocoreError as e:
            await self._failed(rows, e)
            return 0
        earlier = await self._with_earlier_versions(rows)
        fresh = [r for r in rows if r.attempts == 0 and r.seq not in earlier]
        published = await self._publish_batch(client, fresh)
        rest = [r for r in rows if r.seq not in published]
        for row in rest:
            try:
                result = await client.put_record(
                    parse_nsid(row.collection), parse_record_key(row.rkey), row.record
                )
            except (AtprotoError, CocoreError) as e:
                await self._failed([row], e)
                continue
            faults.hit("outbox.after_put")
            await self._mark({row.seq: str(result.cid)})
            published[row.seq] = str(result.cid)
        events.outbox_published(len(published))
        return len(published)

    async def _client_or_connect(self) -> AtprotoClient:
        if self._client is None:
            self._client = await self._connect()
        return self._client

    async def _publish_batch(self, client: AtprotoClient, rows: list[_Row]) -> dict[int, str]:
        """New records in one commit; on any refusal the caller puts them one by one."""
        if not rows:
            return {}
        writes = [
            Create(parse_nsid(r.collection), r.record, parse_record_key(r.rkey)) for r in rows
        ]
        try:
            results = await client.apply_writes(writes)
        except (AtprotoError, CocoreError):
            return {}
        faults.hit("outbox.after_put")
        cids = {
            row.seq: str(getattr(res, "cid", "")) for row, res in zip(rows, results, strict=True)
        }
        await self._mark(cids)
        return cids

    async def _due(self) -> list[_Row]:
        """The oldest pending rows that are due, skipping any URI whose earlier row is not."""
        now = self._clock()
        pending = OUTBOX.c.state == "pending"
        query = select(OUTBOX).where(pending).order_by(OUTBOX.c.seq).limit(WRITE_BATCH)
        async with self.db.session() as session:
            found = (await session.execute(query)).all()
        rows, blocked = [], set()
        for r in found:
            if r.uri in blocked or r.next_attempt_at > now:
                blocked.add(r.uri)
                continue
            blocked.add(r.uri)  # one version of a URI per round, in order
            rows.append(_Row(r.seq, r.collection, r.rkey, r.uri, r.cid, json.loads(r.record),
                             r.attempts, r.next_attempt_at))  # fmt: skip
        return rows

    async def _with_earlier_versions(self, rows: list[_Row]) -> set[int]:
        """Rows whose URI has an earlier outbox row: they replace a record, so they are puts."""
        query = (
            select(OUTBOX.c.uri, func.min(OUTBOX.c.seq))
            .where(OUTBOX.c.uri.in_([r.uri for r in rows]))
            .group_by(OUTBOX.c.uri)
        )
        async with self.db.session() as session:
            first = {uri: seq for uri, seq in (await session.execute(query)).all()}
        return {r.seq for r in rows if first.get(r.uri, r.seq) < r.seq}

    async def _mark(self, cids: dict[int, str]) -> None:
        if not cids:
            return
        now = self._clock()
        async with self.db.transaction() as session:
            await session.execute(
                update(OUTBOX).where(OUTBOX.c.seq == bindparam("key")).values(
                    state="published", published_at=now, published_cid=bindparam("got"),
                    attempts=OUTBOX.c.attempts + 1, last_error=None,
                ),
                [{"key": seq, "got": cid} for seq, cid in cids.items()],
            )  # fmt: skip

    async def _failed(self, rows: list[_Row], error: CocoreError) -> None:
        now = self._clock()
        params = []
        for row in rows:
            attempts = row.attempts + 1
            delay = min(self._max_backoff_s, 2.0 ** min(attempts, 20))
            delay = delay / 2 + self._rng.random() * delay / 2
            params.append({"key": row.seq, "n": attempts, "next": now + timedelta(seconds=delay),
                           "err": f"{error.code}: {error.message}"[:512]})  # fmt: skip
            events.outbox_failed(error.code, attempts)
        if isinstance(error, AtprotoError) and self._client is not None:
            await self.close()  # a fresh login next round (the session may be what failed)
        async with self.db.transaction() as session:
            await session.execute(
                update(OUTBOX).where(OUTBOX.c.seq == bindparam("key")).values(
                    attempts=bindparam("n"), next_attempt_at=bindparam("next"),
                    last_error=bindparam("err"),
                ),
                params,
            )  # fmt: skip

    async def pending_count(self) -> int:
        async with self.db.session() as session:
            rows = await session.execute(select(OUTBOX.c.seq).where(OUTBOX.c.state == "pending"))
            return len(rows.all())
