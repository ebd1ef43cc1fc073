"""The WatchRecords feed: validated changes in seq order, from any cursor, never blocking ingest.

The writer hands each committed batch to `publish`, which only appends to a bounded ring and
wakes waiting streams. A stream serves from the ring while its cursor is inside it; one that
fell behind (or starts from an old cursor) pages from the store instead, then rejoins the ring.
A replica that does not ingest itself still sees other writers' commits by polling the head.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from cocore.errors import FailedPrecondition
from cocore.storage import Database

from .db import feed, feed_head
from .events import Events
from .items import Outcome


class CursorAhead(FailedPrecondition):
    default_code = "cursor_ahead"


@dataclass(frozen=True, slots=True)
class FeedEvent:
    seq: int
    action: str
    uri: str
    collection: str
    repo: str
    rkey: str
    cid: str | None
    rev: str
    record: bytes | None
    indexed_at: datetime


class FeedHub:
    def __init__(
        self,
        db: Database,
        events: Events,
        *,
        ring_size: int = 10_000,
        page_size: int = 500,
        poll_s: float = 1.0,
    ) -> None:
        self._db, self._events = db, events
        self._ring: deque[FeedEvent] = deque(maxlen=ring_size)
        self._page_size, self._poll_s = page_size, poll_s
        self._changed = asyncio.Event()

    def publish(self, outcome: Outcome) -> None:
        """Called after each commit, in commit order; cheap and never blocks."""
        for row in outcome.feed:
            self._ring.append(_event(row))
        if outcome.feed:
            self._changed.set()
            self._changed = asyncio.Event()

    async def head(self) -> int:
        async with self._db.session() as s:
            return int((await s.execute(select(feed_head.c.seq))).scalar_one())

    async def watch(
        self, cursor: int | None, collections: Collection[str]
    ) -> AsyncIterator[FeedEvent]:
        """Events after `cursor` (None: only new ones), forever; filtered by collection."""
        head = await self.head()
        if cursor is None:
            cursor = head
        elif cursor > head:
            raise CursorAhead(f"cursor {cursor} is ahead of this AppView's feed ({head})")
        wanted = frozenset(collections)
        self._events.watcher(True)
        try:
            while True:
                batch, cursor, caught_up = await self._next(cursor, wanted)
                for event in batch:
                    yield event
                if caught_up:
                    await self._wait(cursor)
        finally:
            self._events.watcher(False)

    async def _next(self, cursor: int, wanted: frozenset[str]) -> tuple[list[FeedEvent], int, bool]:
        ring = self._ring
        if ring and ring[0].seq <= cursor + 1:
            batch = [e for e in list(ring) if e.seq > cursor][: self._page_size]
            new_cursor = batch[-1].seq if batch else cursor
            return (
                [e for e in batch if _wanted(e, wanted)],
                new_cursor,
                len(batch) < self._page_size,
            )
        if ring:
            self._events.watcher_resumed_from_store()
        head = await self.head()  # read first: rows committed later are for the next round
        rows = await self._page(cursor, head, wanted)
        if len(rows) < self._page_size:
            return rows, max(cursor, head), True  # scanned everything up to `head`
        return rows, rows[-1].seq, False

    async def _page(self, cursor: int, head: int, wanted: frozenset[str]) -> list[FeedEvent]:
        query = (
            select(feed)
            .where(feed.c.seq > cursor, feed.c.seq <= head)
            .order_by(feed.c.seq)
            .limit(self._page_size)
        )
        if wanted:
            query = query.where(feed.c.collection.in_(sorted(wanted)))
        async with self._db.session() as s:
            return [_event(r._asdict()) for r in await s.execute(query)]

    async def _wait(self, cursor: int) -> None:
        while True:
            newest = self._ring[-1].seq if self._ring else None
            if newest is not None and newest > cursor:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), self._poll_s)
                return
            if await self.head() > cursor:
                return  # another writer (a separate ingest replica) committed


def _wanted(event: FeedEvent, wanted: frozenset[str]) -> bool:
    return not wanted or event.collection in wanted


def _event(row: dict[str, Any]) -> FeedEvent:
    return FeedEvent(
        seq=int(row["seq"]), action=row["action"], uri=row["uri"], collection=row["collection"],
        repo=row["repo"], rkey=row["rkey"], cid=row["cid"], rev=row["rev"],
        record=row["record"], indexed_at=row["indexed_at"],
    )  # fmt: skip
