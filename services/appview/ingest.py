"""One firehose source → validated changes in the store, with the cursor in the same commit.

Three stages joined by bounded queues: the reader drains the websocket (the consumer decodes
each frame), the checker validates everything waiting as one chunk, the writer applies
everything waiting as one transaction. A slow stage turns into bigger chunks, not a growing
backlog. The stored cursor is the last seq whose effects are
committed: a crash replays from there, and revision checks make a replayed change a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import select

from cocore.atproto import Backoff, Batch, FirehoseConsumer
from cocore.errors import CocoreError
from cocore.storage import Database

from .db import sources
from .events import Events
from .items import Item, Outcome, WriteBatch
from .translate import Op, checks, firehose_items
from .validate import Accepted, RecordValidator, Rejected
from .write import StoreWriter

COLLECTIONS = ("dev.cocore.",)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Frame:
    """One frame's events as store items, validated."""

    seq: int | None
    items: list[Item]
    events: int


@dataclass(frozen=True, slots=True)
class _Marker:
    """Every frame up to `seq` is ahead of this in the pipeline: once the writer gets here it
    may commit the cursor `seq` (frames without cocore records move it too)."""

    seq: int


@dataclass(frozen=True, slots=True)
class IngestDeps:
    """What the ingest and backfill paths share."""

    db: Database
    writer: StoreWriter
    validator: RecordValidator
    events: Events
    clock: Callable[[], datetime]


class SourceIngestor:
    def __init__(
        self,
        source: str,
        deps: IngestDeps,
        *,
        on_applied: Callable[[Outcome], None],
        queue_frames: int = 1024,
        max_batch_events: int = 2000,
        linger_s: float = 0.01,
        marker_interval_s: float = 2.0,
        backoff: Backoff | None = None,
    ) -> None:
        self.source = source
        self._deps, self._on_applied = deps, on_applied
        self._queue_frames, self._max_events = queue_frames, max_batch_events
        self._linger_s, self._marker_interval_s = linger_s, marker_interval_s
        self._backoff = backoff or Backoff(initial_s=0.5, max_s=30.0)
        self.consumer: FirehoseConsumer | None = None

    @property
    def connected(self) -> bool:
        return self.consumer is not None and self.consumer.connected.is_set()

    async def run(self) -> None:
        """Ingest until cancelled; any failure restarts from the stored cursor after a pause."""
        while True:
            try:
                await self._run_once()
            except (CocoreError, OSError) as e:
                self._deps.events.ingest_failed(self.source, e)
                await asyncio.sleep(self._backoff.delay())

    async def stored_cursor(self) -> int | None:
        async with self._deps.db.transaction() as s:
            query = select(sources.c.cursor).where(sources.c.name == self.source)
            row = (await s.execute(query)).first()
            if row is None:
                await s.execute(sources.insert().values(
                    name=self.source, cursor=None, discovered=False, updated_at=self._deps.clock()
                ))  # fmt: skip
                return None
            return None if row.cursor is None else int(row.cursor)

    async def _run_once(self) -> None:
        consumer = FirehoseConsumer(
            self.source, cursor=await self.stored_cursor(), collections=COLLECTIONS
        )
        self.consumer = consumer
        raw: asyncio.Queue[Batch | _Marker] = asyncio.Queue(self._queue_frames)
        checked: asyncio.Queue[_Frame | _Marker] = asyncio.Queue(self._queue_frames)
        stages = [
            asyncio.create_task(self._read(consumer, raw)),
            asyncio.create_task(self._mark(consumer, raw)),
            asyncio.create_task(self._check(raw, checked)),
            asyncio.create_task(self._write(checked)),
        ]
        try:
            done, _ = await asyncio.wait(stages, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # a stage failed (or the stream ended): surface it
        finally:
            for task in stages:
                task.cancel()
            await consumer.aclose()
            for task in stages:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _read(self, consumer: FirehoseConsumer, raw: asyncio.Queue[Batch | _Marker]) -> None:
        async for batch in consumer:
            await raw.put(batch)

    async def _mark(self, consumer: FirehoseConsumer, raw: asyncio.Queue[Batch | _Marker]) -> None:
        connected = False
        while True:
            await asyncio.sleep(self._marker_interval_s)
            if consumer.connected.is_set() and not connected:
                self._deps.events.firehose_connected(self.source, consumer.cursor)
            connected = consumer.connected.is_set()
            # consumer.cursor never passes a frame the reader still holds, so every frame up
            # to it is already queued ahead of this marker.
            if consumer.cursor is not None and not raw.full():
                raw.put_nowait(_Marker(consumer.cursor))

    async def _check(
        self, raw: asyncio.Queue[Batch | _Marker], checked: asyncio.Queue[_Frame | _Marker]
    ) -> None:
        while True:
            chunk = _drain(raw, await raw.get(), self._max_events, _size)
            ops = [checks(b.events) if isinstance(b, Batch) else [] for b in chunk]
            verdicts = await self._verdicts([op for frame_ops in ops for op in frame_ops])
            start = 0
            for item, frame_ops in zip(chunk, ops, strict=True):
                if isinstance(item, _Marker):
                    await checked.put(item)
                    continue
                mine = verdicts[start : start + len(frame_ops)]
                start += len(frame_ops)
                items = firehose_items(item.events, mine, self._deps.events)
                await checked.put(_Frame(item.seq, items, len(item.events)))

    async def _verdicts(self, ops: list[Op]) -> list[Accepted | Rejected]:
        # One chunk per call, so the validation could move to worker processes; tried here,
        # the pickling cost more than it saved on a 2-core host (see bench/appview.py).
        check = self._deps.validator.check
        return [check(c, repo, rkey, record) for c, repo, rkey, record in ops]

    async def _write(self, checked: asyncio.Queue[_Frame | _Marker]) -> None:
        while True:
            first = await checked.get()
            if checked.qsize() < self._queue_frames // 8:
                # Group commit: a moment's wait turns a trickle into one bigger transaction
                # (each commit has a fixed cost); under load the queue is already full.
                await asyncio.sleep(self._linger_s)
            batch = WriteBatch(source=self.source)
            for item in _drain(checked, first, self._max_events, _size):
                if isinstance(item, _Frame):
                    batch.items.extend(item.items)
                if item.seq is not None:
                    batch.cursor = max(batch.cursor or 0, item.seq)
            outcome = await self._deps.writer.apply(batch)
            self._deps.events.batch_applied(self.source, batch.cursor, outcome)
            self._on_applied(outcome)


def _size(item: Batch | _Frame | _Marker) -> int:
    if isinstance(item, Batch):
        return len(item.events)
    return item.events if isinstance(item, _Frame) else 0


def _drain(queue: asyncio.Queue[T], first: T, limit: int, size: Callable[[T], int]) -> list[T]:
    """`first` and whatever else is already queued, up to about `limit` events."""
    out, n = [first], size(first)
    while n < limit and not queue.empty():
        item = queue.get_nowait()
        out.append(item)
        n += size(item)
    return out
