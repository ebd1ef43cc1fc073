"""One firehose source → validated changes in the store, with the cursor in the same commit.

The front (front.py: read, decode, validate) runs in this event loop or in a child process
(`worker=True`), handing validated chunks over a bounded queue to the writer, which applies
whatever is waiting as one transaction. A slow writer turns into bigger transactions, then
back-pressure up to the websocket, not a growing backlog. The stored cursor is the last seq
whose effects are committed: a crash replays from there, and revision checks make a
replayed change a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import select

from cocore.atproto import DEFAULT_PLC_URL, Backoff
from cocore.errors import CocoreError
from cocore.storage import Database

from .db import sources
from .events import Events
from .front import SLICE_FRAMES, Checked, Frame, Front, FrontConfig, Status
from .items import Outcome, WriteBatch
from .translate import report_invalid
from .validate import RecordValidator
from .worker import run_front_in_child
from .write import StoreWriter

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class IngestDeps:
    """What the ingest and backfill paths share."""

    db: Database
    writer: StoreWriter
    validator: RecordValidator
    events: Events
    clock: Callable[[], datetime]
    plc_url: str = DEFAULT_PLC_URL  # where commit signatures' keys are resolved
    insecure_loopback: bool = False  # dev only: did:web over plain http on loopback


class SourceIngestor:
    def __init__(
        self,
        source: str,
        deps: IngestDeps,
        *,
        on_applied: Callable[[Outcome], None],
        from_pds: bool = False,
        worker: bool = False,
        queue_frames: int = 1024,
        max_write_events: int = 2000,
        linger_s: float = 0.25,
        settle_s: float = 0.02,
        marker_interval_s: float = 2.0,
        backoff: Backoff | None = None,
    ) -> None:
        self.source, self._from_pds = source, from_pds
        self._deps, self._on_applied, self._worker = deps, on_applied, worker
        self._queue_frames = queue_frames
        # Events per transaction: a bigger one costs less per event (see write.SEGMENT_ITEMS).
        self._max_write_events = max_write_events
        self._full = max(1, max_write_events // SLICE_FRAMES)  # chunks that make a batch
        self._linger_s, self._settle_s = linger_s, settle_s
        self._marker_interval_s = marker_interval_s
        self._backoff = backoff or Backoff(initial_s=0.5, max_s=30.0)
        self.connected = False

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
        validator = self._deps.validator
        config = FrontConfig(
            self.source,
            await self.stored_cursor(),
            plc_url=self._deps.plc_url,
            from_pds=self._from_pds,
            insecure_loopback=self._deps.insecure_loopback,
            exchanges=None if validator.exchanges is None else tuple(sorted(validator.exchanges)),
            max_record_bytes=validator.max_record_bytes,
            queue_frames=self._queue_frames,
            marker_interval_s=self._marker_interval_s,
        )
        # Room for two full batches: the front fills one while the writer commits the other.
        checked: asyncio.Queue[list[Checked]] = asyncio.Queue(2 * self._full)
        if self._worker:
            front = run_front_in_child(config, checked.put)
        else:
            front = Front(config, validator, checked.put).run()
        stages = [asyncio.create_task(front), asyncio.create_task(self._write(checked))]
        try:
            done, _ = await asyncio.wait(stages, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # a stage failed (or the stream ended): surface it
        finally:
            self.connected = False
            for task in stages:
                task.cancel()
            for task in stages:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _write(self, checked: asyncio.Queue[list[Checked]]) -> None:
        while True:
            first = await checked.get()
            await self._gather(checked)
            batch = WriteBatch(source=self.source)
            for i, chunk in enumerate(drain(checked, first, self._max_write_events, _events)):
                for item in chunk:
                    self._take(item, batch)
                if i % 8 == 7:
                    await asyncio.sleep(0)  # a few hundred events per turn of the loop
            if not batch.items and batch.cursor is None:
                continue
            outcome = await self._deps.writer.apply(batch)
            self._deps.events.batch_applied(self.source, batch.cursor, outcome)
            self._on_applied(outcome)

    async def _gather(self, checked: asyncio.Queue[list[Checked]]) -> None:
        """Group commit: while chunks keep arriving, wait (up to `linger_s`) for a full batch.
        A big transaction costs far less per event (each hot index page is written once per
        commit), and a busy stream fills one quickly; a trickle commits as soon as it pauses."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._linger_s
        while checked.qsize() < self._full and loop.time() < deadline:
            waiting = checked.qsize()
            await asyncio.sleep(self._settle_s)
            if checked.qsize() == waiting:
                return  # nothing more came: a trickle

    def _take(self, item: Checked, batch: WriteBatch) -> None:
        if isinstance(item, Status):
            self.connected = item.connected
            if item.connected:
                self._deps.events.firehose_connected(self.source, item.cursor)
            return
        if isinstance(item, Frame):
            batch.items.extend(item.items)
            report_invalid(item.items, self._deps.events)
        if item.seq is not None:
            batch.cursor = max(batch.cursor or 0, item.seq)


def _events(chunk: list[Checked]) -> int:
    return sum(c.events for c in chunk if isinstance(c, Frame))


def drain(queue: asyncio.Queue[T], first: T, limit: int, size: Callable[[T], int]) -> list[T]:
    """`first` and whatever else is already queued, up to about `limit` events."""
    out, n = [first], size(first)
    while n < limit and not queue.empty():
        item = queue.get_nowait()
        out.append(item)
        n += size(item)
    return out
