"""Receipts from anywhere: a `ReceiptSource` interface, a PDS-firehose source, and the loop
that settles every receipt a source yields.

The gateway's `Settle` is the fast path; sources make sure receipts reaching the network any
other way (another gateway, a retry after an outage) are settled too. A source yields
batches with an opaque position; the loop settles (or records as refused) every receipt of
a batch before it commits the position, so a restart resumes without losing any. The
AppView's `WatchRecords` feed (`feed.py`) is the other source.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import select

from cocore.atproto import Batch, FirehoseConsumer, RecordOp
from cocore.errors import CocoreError
from cocore.lexicon import ids
from cocore.storage import Database
from cocore.syntax import AtUri

from . import db, events
from .errors import DependencyUnavailable
from .exchange import Exchange, Refusal
from .records import StrongRef
from .settlement import RejectCommand

CONCURRENCY = 64  # receipts of one batch settled at once (they share the writer's batches)
COMMIT_EVERY_S = 1.0  # a source's position is committed at most this often
GRACE_QUEUE = 4096  # batches read ahead while they wait out the grace
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ReceiptEvent:
    uri: AtUri
    cid: str | None
    record: dict[str, Any]


class ReceiptSource(Protocol):
    name: str

    def batches(self) -> AsyncIterator[tuple[list[ReceiptEvent], int | None]]:
        """Batches of receipts, each with the position to commit once it is handled."""
        ...

    async def commit(self, position: int) -> None: ...


class FirehoseSource:
    """Receipts created or updated on one PDS (or relay), from its firehose, resumable."""

    def __init__(self, database: Database, service_url: str, clock: Any) -> None:
        self.name = f"firehose:{service_url}"
        self.db = database
        self._url = service_url
        self._clock = clock
        self.consumer: FirehoseConsumer | None = None

    async def batches(self) -> AsyncIterator[tuple[list[ReceiptEvent], int | None]]:
        cursor = await self._cursor()
        self.consumer = FirehoseConsumer(self._url, cursor=cursor,
                                         collections=[ids.COMPUTE_RECEIPT])  # fmt: skip
        try:
            async for batch in self.consumer:
                yield _receipts(batch), batch.seq
        finally:
            await self.consumer.aclose()

    async def _cursor(self) -> int | None:
        return await load_cursor(self.db, self.name)

    async def commit(self, position: int) -> None:
        await save_cursor(self.db, self.name, position, self._clock())


async def load_cursor(database: Database, source: str) -> int | None:
    """The position a source committed last (None: it never committed one)."""
    query = select(db.CURSORS.c.cursor).where(db.CURSORS.c.source == source)
    async with database.session() as session:
        row = (await session.execute(query)).first()
    return int(row[0]) if row else None


async def save_cursor(database: Database, source: str, position: int, now: datetime) -> None:
    table = db.CURSORS
    async with database.transaction() as session:
        updated = await session.execute(
            table.update().where(table.c.source == source).values(cursor=position, updated_at=now)
        )
        if getattr(updated, "rowcount", 0) == 0:
            await session.execute(
                table.insert().values(source=source, cursor=position, updated_at=now)
            )


def _receipts(batch: Batch) -> list[ReceiptEvent]:
    out = []
    for event in batch.events:
        if not isinstance(event, RecordOp) or event.action == "delete" or event.record is None:
            continue
        if event.collection == ids.COMPUTE_RECEIPT:
            out.append(ReceiptEvent(event.uri, event.cid and str(event.cid), event.record))
    return out


async def settle_from(source: ReceiptSource, exchange: Exchange, grace_s: float = 0.0) -> None:
    """Settle every receipt the source yields, committing its position batch by batch; each
    batch waits until `grace_s` after it arrived (see `after_grace`)."""
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(event: ReceiptEvent) -> None:
        async with limit:
            await settle_one(exchange, event, source.name)

    owed: int | None = None  # a handled position not yet committed
    committed_at = -COMMIT_EVERY_S
    async for receipts, position in after_grace(source.batches(), grace_s):
        # Most receipts arrive here after the gateway's fast path settled them: skip those
        # (same URI and CID) before fetching their job, authorization and attestation from
        # the PDSes, which cost both sides far more than the settlement itself.
        done = await settled_already(exchange.db, receipts)
        await asyncio.gather(*(one(e) for e in receipts if (str(e.uri), e.cid) not in done))
        owed = position if position is not None else owed
        # A transaction per feed event cost more than the skip itself; committing at most
        # every COMMIT_EVERY_S means a restart re-reads that much, which settles nothing twice.
        if owed is not None and time.monotonic() - committed_at >= COMMIT_EVERY_S:
            await source.commit(owed)
            owed, committed_at = None, time.monotonic()
    if owed is not None:
        await source.commit(owed)


async def after_grace(batches: AsyncIterator[T], grace_s: float) -> AsyncIterator[T]:
    """`batches`, each yielded no sooner than `grace_s` after it arrived.

    A receipt reaches the feed about when the gateway that admitted its job hands it to
    `Settle` with the job and authorization it holds; waiting a moment lets that settle first,
    so `settled_already` skips it instead of fetching those records from the requester's PDS.
    Reading goes on meanwhile (a bounded queue), so the delay adds latency, not a rate limit.
    """
    if grace_s <= 0:
        async for batch in batches:
            yield batch
        return
    queue: asyncio.Queue[tuple[float, T] | BaseException | None] = asyncio.Queue(GRACE_QUEUE)

    async def read() -> None:
        try:
            async for batch in batches:
                await queue.put((time.monotonic(), batch))
        except Exception as e:  # noqa: BLE001 (handed to the consumer, which raises it)
            await queue.put(e)
        else:
            await queue.put(None)

    reader = asyncio.create_task(read(), name="receipts after grace")
    try:
        while (got := await queue.get()) is not None:
            if isinstance(got, BaseException):
                raise got
            arrived, batch = got
            await asyncio.sleep(arrived + grace_s - time.monotonic())
            yield batch
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


async def settled_already(database: Database, receipts: list[ReceiptEvent]) -> set[tuple[str, str]]:
    """The (receipt URI, receipt CID) pairs among `receipts` that are settled."""
    if not receipts:
        return set()
    table = db.Settlement.__table__
    query = select(table.c.receipt_uri, table.c.receipt_cid).where(
        table.c.status == "settled", table.c.receipt_uri.in_({str(e.uri) for e in receipts})
    )
    async with database.session() as session:
        return {(u, c) for u, c in (await session.execute(query)).all()}


async def settle_one(exchange: Exchange, event: ReceiptEvent, source: str) -> None:
    """Settle one receipt; a dependency that cannot be fetched now leaves it retryable."""
    try:
        bundle = await exchange.assemble(event.uri, event.record, receipt_cid=event.cid)
        outcome = await exchange.settle(bundle)
    except DependencyUnavailable as e:
        events.source_error(source, e.code)
        receipt = StrongRef(str(event.uri), event.cid or "")
        await exchange.writer.submit(RejectCommand(receipt, ("dependency-unavailable",), True))
        return
    except CocoreError as e:  # one bad receipt must not stop the source
        events.source_error(source, e.code)
        return
    if isinstance(outcome, Refusal):
        return  # recorded as unsettled by `settle`
