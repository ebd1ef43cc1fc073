"""The durable outbox: a requester's job and paymentAuthorization, written to their PDS later.

Rows are queued with their rkey and CID fixed (`records.place`), so the strongRefs the job
travels with are right before the PDS has them. The publisher writes every due row of one
repo in one `applyWrites` commit (a group's records are never split across commits; several
jobs' groups share one, which spares the PDS a commit per job), retries with backoff, and
treats a record already there with the same CID as published (a retry after a lost answer).
A wiped account's queued rows are dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from itertools import groupby

from sqlalchemy import delete, insert, select, update

from cocore.atproto import AtprotoClient, AtprotoError, Create
from cocore.errors import CocoreError, Unavailable
from cocore.storage import Database, DuplicateKey
from cocore.syntax import parse_did, parse_nsid, parse_record_key

from . import events
from .accounts import AccountStore
from .db import OutboxRow
from .records import Placed

log = logging.getLogger("cocore.gateway")
PENDING, PUBLISHED = "pending", "published"
CLAIM_S = 30
ENQUEUE_TRIES = 4
MAX_BACKOFF_S = 300


class Outbox:
    def __init__(
        self, db: Database, accounts: AccountStore, clock: Callable[[], datetime],
        *, poll_s: float = 1.0, batch: int = 64, concurrency: int = 8,
    ) -> None:  # fmt: skip
        self.db = db
        self.accounts = accounts
        self.clock = clock
        self.poll_s = poll_s
        self.batch = batch
        self._wake = asyncio.Event()
        self._limit = asyncio.Semaphore(concurrency)

    async def enqueue(self, did: str, group: str, records: Sequence[Placed]) -> None:
        now = self.clock()
        rows = [
            {"did": did, "group_key": group, "collection": str(p.collection), "rkey": p.rkey,
             "cid": p.cid, "record": p.record, "state": PENDING, "attempts": 0,
             "next_attempt_at": now, "last_error": None, "created_at": now,
             "published_at": None}
            for p in records
        ]  # fmt: skip
        for attempt in range(ENQUEUE_TRIES):
            try:
                async with self.db.transaction() as session:  # one statement, no unit of work
                    await session.execute(insert(OutboxRow), rows)
                break
            except DuplicateKey:
                if not attempt:
                    raise
                break  # the earlier try committed after all
            except Unavailable:  # the write lock stayed busy (a burst): try again shortly
                if attempt + 1 == ENQUEUE_TRIES:
                    raise
                await asyncio.sleep(0.05 * 2**attempt)
        self._wake.set()

    async def drop_account(self, did: str) -> int:
        async with self.db.transaction() as session:
            result = await session.execute(delete(OutboxRow).where(OutboxRow.did == did))
        return int(getattr(result, "rowcount", 0) or 0)

    async def pending(self, did: str | None = None) -> int:
        async with self.db.session() as session:
            query = select(OutboxRow.id).where(OutboxRow.state == PENDING)
            if did is not None:
                query = query.where(OutboxRow.did == did)
            return len(list(await session.scalars(query)))

    async def run(self) -> None:
        while True:
            try:
                await self.publish_due()
            except CocoreError as e:  # a database hiccup: try again next round
                log.warning("outbox_round_failed code=%s", e.code)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_s)
            self._wake.clear()

    async def publish_due(self) -> int:
        """Publish every due row once, one commit per repo; returns how many groups were
        written."""
        rows = await self._claim()
        repos = [list(g) for _, g in groupby(rows, key=lambda r: r.did)]
        done = await asyncio.gather(*(self._publish(g) for g in repos))
        return sum(done)

    async def _claim(self) -> list[OutboxRow]:
        now = self.clock()
        async with self.db.transaction() as session:
            rows = list(await session.scalars(
                select(OutboxRow)
                .where(OutboxRow.state == PENDING, OutboxRow.next_attempt_at <= now)
                .order_by(OutboxRow.did, OutboxRow.group_key, OutboxRow.id)
                .limit(self.batch)
                .with_for_update(skip_locked=True)
            ))  # fmt: skip
            if len(rows) == self.batch and rows[0].group_key != rows[-1].group_key:
                cut = rows[-1].group_key  # the limit may have split it: next round takes it whole
                rows = [r for r in rows if r.group_key != cut]
            for row in rows:  # a crashed publisher's claim lapses after CLAIM_S
                row.next_attempt_at = now + timedelta(seconds=CLAIM_S)
        return rows

    async def _publish(self, rows: list[OutboxRow]) -> int:
        async with self._limit:
            did = rows[0].did
            try:
                await self.accounts.with_client(did, lambda c: _write(c, rows))
            except (AtprotoError, CocoreError) as e:
                await self._retry_later(rows, e.code)
                events.outbox_retry(e.code)
                return 0
            await self._mark(rows, PUBLISHED)
            events.records_published(len(rows))
            return len({r.group_key for r in rows})

    async def _mark(self, rows: list[OutboxRow], state: str) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                update(OutboxRow)
                .where(OutboxRow.id.in_([r.id for r in rows]), OutboxRow.state == PENDING)
                .values(state=state, published_at=self.clock())
            )

    async def _retry_later(self, rows: list[OutboxRow], code: str) -> None:
        now = self.clock()
        async with self.db.transaction() as session:
            for row in rows:
                backoff = min(2 ** min(row.attempts, 16), MAX_BACKOFF_S)
                await session.execute(
                    update(OutboxRow).where(OutboxRow.id == row.id).values(
                        attempts=OutboxRow.attempts + 1, last_error=code[:256],
                        next_attempt_at=now + timedelta(seconds=backoff),
                    )
                )  # fmt: skip


async def _write(client: AtprotoClient, rows: list[OutboxRow]) -> None:
    writes = [Create(parse_nsid(r.collection), r.record, parse_record_key(r.rkey)) for r in rows]
    try:
        await client.apply_writes(writes)
    except AtprotoError:
        # A retry after a lost answer: the records may be there already, with our CIDs.
        if not await _all_present(client, rows):
            raise


async def _all_present(client: AtprotoClient, rows: list[OutboxRow]) -> bool:
    for r in rows:
        try:
            view = await client.get_record(
                parse_did(r.did), parse_nsid(r.collection), parse_record_key(r.rkey)
            )
        except AtprotoError:
            return False
        if str(view.cid) != r.cid:
            return False
    return True
