"""The single logical writer: commands queue up and are applied in batches, one commit each.

Group commit is what lets the hot treasury account take thousands of transfers a second: a
batch loads every row its commands name in a few set-based reads, applies the commands in
memory one after another (so each sees the effects of those before it), then writes one
cached-balance update per touched account and every journal entry, domain row and outbox
record in the same transaction. On PostgreSQL a transaction-scoped advisory lock keeps a
second replica from interleaving; on SQLite BEGIN IMMEDIATE does.

A command whose caller already has its answer (a hold admitted from memory) is `deferred`: its
batch waits up to `linger_s` for company, or until a command someone waits on arrives. On a
small host that commit otherwise lands in the job's first milliseconds and takes a core from
the provider's prefill (bench/gateway: ~3 ms of the first token); batched later it costs less.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from cocore.storage import FRESH_PLANS_SQL, Database, StorageError
from cocore.syntax import TidClock

from . import events, faults
from .domain_sql import load_domain, save_domain
from .errors import WriterStopped
from .ledger import Ledger, LedgerView
from .ledger_sql import SqlLedgerStore
from .ledger_types import ESCROW, MINT, AccountFlags
from .membership import grant_id
from .state import Batch, Context, Keys

T_co = TypeVar("T_co", covariant=True)
T = TypeVar("T")
log = logging.getLogger(__name__)
ADVISORY_LOCK = 0x636F636F7265  # "cocore": one exchange writer at a time per database
MAX_BATCH = 4000
# One round trip: the advisory lock, and a fresh plan for every statement of the batch (see
# `FRESH_PLANS_SQL`: a custom plan sees the real array, hashed or probed through the index).
_BEGIN_PG = text(f"SELECT pg_advisory_xact_lock(:k), {FRESH_PLANS_SQL}")
YIELD_EVERY = 128  # commands applied between yields to the event loop


@dataclass
class Tx:
    """The open transaction of one batch, for commands that must query before they apply."""

    conn: AsyncConnection
    ledger: SqlLedgerStore
    now: datetime


class Command(Protocol[T_co]):
    """One unit of work. `apply` must not raise for expected outcomes: it returns them."""

    @property
    def exclusive(self) -> bool:
        """True: runs in a batch of its own (it does heavy reads in `prepare`)."""
        ...

    def keys(self) -> Keys: ...

    async def prepare(self, tx: Tx) -> None: ...

    def apply(self, batch: Batch) -> T_co: ...


@dataclass
class _Item(Generic[T]):
    command: Command[T]
    future: asyncio.Future[T] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    queued_at: float = field(default_factory=time.perf_counter)
    deferred: bool = False  # nobody waits on it: its batch may linger


class Writer:
    """Owns the queue and the task that drains it."""

    def __init__(
        self,
        db: Database,
        context: Callable[[], Context],
        clock: Callable[[], datetime],
        *,
        tids: TidClock | None = None,
        max_batch: int = MAX_BATCH,
        on_commit: Callable[[Batch], None] | None = None,
        linger_s: float = 0.0,
    ) -> None:
        self.db = db
        self._context = context
        self._clock = clock
        self._tids = tids or TidClock()
        self._max_batch = max_batch
        self._on_commit = on_commit
        self._linger_s = linger_s
        self._awaited = asyncio.Event()  # set while `_waited_on` > 0: no lingering then
        self._waited_on = 0  # queued commands whose callers wait for their commit
        self._queue: asyncio.Queue[_Item[Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0

    def start(self) -> asyncio.Task[None]:
        assert self._task is None
        self._task = asyncio.create_task(self._run(), name="exchange-writer")
        return self._task

    async def stop(self) -> None:
        """Finish what is queued, then stop."""
        if self._task is None:
            return
        self.hurry()
        await self._queue.join()
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    async def submit(self, command: Command[T]) -> T:
        # A caller that gives up does not undo its command: it is applied (or not) all the same.
        return await self.enqueue(command)

    def enqueue(self, command: Command[T], *, deferred: bool = False) -> asyncio.Future[T]:
        """Queue a command; the future resolves once its batch has committed. `deferred`:
        its caller already has the answer, so the commit may wait up to `linger_s`."""
        if self._task is None or self._task.done():
            raise WriterStopped("the exchange's writer is not running")
        item: _Item[T] = _Item(command, deferred=deferred)
        self._queue.put_nowait(item)
        if not deferred:
            self._waited_on += 1
            self._awaited.set()
        return item.future

    def hurry(self) -> None:
        """Someone now waits on the deferred commands queued: commit them without lingering."""
        self._awaited.set()

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            if first.deferred and self._linger_s > 0 and not self._awaited.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._awaited.wait(), self._linger_s)
            items = [first]
            if not first.command.exclusive:
                while len(items) < self._max_batch and not self._queue.empty():
                    nxt = self._queue.get_nowait()
                    if nxt.command.exclusive:
                        self._queue.put_nowait(nxt)  # runs alone, after this batch
                        self._queue.task_done()
                        break
                    items.append(nxt)
            self._waited_on -= sum(1 for item in items if not item.deferred)
            if not self._waited_on:
                self._awaited.clear()
            started = time.perf_counter()
            events.writer_timing("queue_wait", started - first.queued_at, len(items))
            try:
                await self._process(items)
                events.writer_timing("batch", time.perf_counter() - started, len(items))
            except BaseException as e:
                # A bug or a broken invariant: stop here (nothing of this batch committed)
                # and fail every caller rather than leave them waiting forever.
                self._fail_everything(items, e)
                raise
            finally:
                for _ in items:
                    self._queue.task_done()

    def _fail_everything(self, items: list[_Item[Any]], error: BaseException) -> None:
        log.critical("the exchange writer stopped", exc_info=error)
        stopped = WriterStopped("the exchange's writer stopped on an internal error")
        for item in items:
            _fail(item, stopped)
        while not self._queue.empty():
            _fail(self._queue.get_nowait(), stopped)
            self._queue.task_done()

    async def _process(self, items: list[_Item[Any]]) -> None:
        try:
            results, batch = await self._attempt(items)
        except StorageError as e:
            if len(items) == 1:
                _fail(items[0], e)
                return
            events.batch_split(len(items), e.code)
            for item in items:  # one bad command must not sink the others
                await self._process([item])
            return
        self.batches += 1
        events.batch_committed(len(items), batch.transfer_count)
        settled = [s for s in batch.new_settlements if s.status == "settled"]
        events.settlements_committed(len(settled), sum(s.amount for s in settled),
                                     sum(s.fee for s in settled))  # fmt: skip
        if self._on_commit is not None:
            self._on_commit(batch)
        for item, result in zip(items, results, strict=True):
            if not item.future.done():
                item.future.set_result(result)

    async def _attempt(self, items: list[_Item[Any]]) -> tuple[list[Any], Batch]:
        now = self._clock()
        async with self.db.transaction() as session:
            conn = await session.connection()
            if conn.dialect.name == "postgresql":
                await conn.execute(_BEGIN_PG, {"k": ADVISORY_LOCK})
            tx = Tx(conn, SqlLedgerStore(conn), now)
            keys = Keys()
            for item in items:
                await item.command.prepare(tx)
                keys.merge(item.command.keys())
            batch = await load_batch(tx, keys, self._context(), self._tids)
            results: list[Any] = []
            for index, item in enumerate(items):
                if index and index % YIELD_EVERY == 0:
                    # Let the loop deliver verified receipts and feed the verifier meanwhile.
                    await asyncio.sleep(0)
                results.append(item.command.apply(batch))
            delta = batch.ledger.delta()
            batch.transfer_count = len(delta.transfers)
            await tx.ledger.save(delta)
            await save_domain(conn, batch)
            if batch.new_settlements:
                faults.hit("settle.before_commit")
            if batch.new_holds:
                faults.hit("admit.before_commit")
        if batch.new_settlements:
            faults.hit("settle.after_commit")
        return results, batch


async def load_batch(tx: Tx, keys: Keys, context: Context, tids: TidClock) -> Batch:
    """Load what `keys` name; open the system accounts (idempotent) so every batch has them."""
    batch = Batch(tx.now, context, Ledger(_empty_view(), tx.now), tid=lambda: str(tids.next()))
    await load_domain(tx.conn, keys, batch)
    dids = set(keys.dids) | {h.requester for h in batch.holds.values()}
    for row in batch.settlements_by_uri.values():
        dids |= {row.requester, row.provider}
    accounts = {context.account(d) for d in dids}
    system = (context.account(MINT), context.account(ESCROW), context.account(context.treasury))
    pending = keys.pending_ids | set(batch.holds)
    # A DID that is not a member yet gets its grant on first touch: load that grant's id so
    # the first touch stays idempotent (a member's grant is never issued again, so not read).
    grants = {grant_id(d) for d in keys.dids if d not in batch.members}
    view = await tx.ledger.load(accounts | set(system), keys.transfer_ids | grants, pending)
    batch.ledger = Ledger(view, tx.now)
    batch.ledger.create_account(MINT, context.currency, AccountFlags.NONE)
    for owner in (ESCROW, context.treasury):
        batch.ledger.create_account(
            owner, context.currency, AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
        )
    return batch


def _empty_view() -> LedgerView:
    return LedgerView()


def _fail(item: _Item[Any], error: BaseException) -> None:
    if not item.future.done():
        item.future.set_exception(error)
