"""The receipt outbox: receipts wait in SQLite until the PDS has them, retried with backoff.

A receipt is `held` from the moment the job completes until the matchmaker confirms the
requester got the whole answer; then it is `pending` (published as soon as the PDS answers)
or, if the job was cancelled or abandoned instead, deleted — nobody is billed for an answer
they never received. Held rows left by a previous process are dropped at start for the same
reason (their delivery is unknown). Publishing is a `putRecord` at the receipt's own rkey, so
a retry after a lost response rewrites the same bytes: idempotent. When several receipts are
due at once (a busy machine), those never tried go to the PDS in one `applyWrites` commit
instead of one commit each; if the PDS refuses that, each is put on its own as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Engine, Executable, Table, delete, func, select, update
from sqlalchemy.orm import Session

from cocore.atproto import AtprotoClient, AtprotoError, Create
from cocore.errors import DeadlineExceeded, ResourceExhausted, Unauthenticated, Unavailable
from cocore.storage import (
    DuplicateKey,
    TransactionConflict,
    create_loop_sqlite_engine,
    sqlite_url,
    upgrade,
)
from cocore.syntax import parse_nsid, parse_record_key

from . import events
from .db import OutboxRecord
from .records.receipt import SignedReceipt

log = logging.getLogger("cocore.provider.outbox")
MIGRATIONS = Path(__file__).parent / "migrations"
Clock = Callable[[], datetime]
RETRYABLE = (Unavailable, DeadlineExceeded, ResourceExhausted, Unauthenticated)
OUTBOX = cast(Table, OutboxRecord.__table__)


class Outbox:
    """Every statement runs in the event loop's thread on one blocking connection (a short
    transaction, no await inside): holding a receipt sits between the job's last token and
    its completion frame, and a commit this way takes about 0.1 ms instead of several thread
    hand-overs through aiosqlite."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self._clock = clock
        self._insert = _RowInsert(engine)

    @classmethod
    async def open(cls, path: Path, clock: Clock) -> Outbox:
        await upgrade(sqlite_url(path), MIGRATIONS)
        path.chmod(0o600)
        return cls(create_loop_sqlite_engine(path), clock)

    def now(self) -> datetime:
        return self._clock()

    async def close(self) -> None:
        self.engine.dispose()

    async def hold(self, receipt: SignedReceipt) -> None:
        now = self._clock()
        self._insert(
            rkey=str(receipt.rkey), collection=receipt.record["$type"], uri=receipt.uri,
            cid=receipt.cid, record=receipt.record, state="held", attempts=0, last_error="",
            next_attempt_at=now, created_at=now, updated_at=now,
        )  # fmt: skip

    async def release(self, rkey: str, *, delivered: bool) -> None:
        """The job's fate is known: publish its receipt, or forget it."""
        rows = OUTBOX.c.rkey == rkey, OUTBOX.c.state == "held"
        if delivered:
            now = self._clock()
            self._write(update(OUTBOX).where(*rows).values(
                state="pending", next_attempt_at=now, updated_at=now))  # fmt: skip
        else:
            self._write(delete(OUTBOX).where(*rows))

    async def drop_held(self) -> int:
        return self._write(delete(OUTBOX).where(OUTBOX.c.state == "held"))

    async def due(self, limit: int = 16) -> list[OutboxRecord]:
        query = (
            select(OutboxRecord)
            .where(OutboxRecord.state == "pending", OutboxRecord.next_attempt_at <= self._clock())
            .order_by(OutboxRecord.created_at)
            .limit(limit)
        )
        with Session(self.engine, expire_on_commit=False) as s:
            return list(s.scalars(query).all())

    async def next_attempt_at(self) -> datetime | None:
        query = select(func.min(OUTBOX.c.next_attempt_at)).where(OUTBOX.c.state == "pending")
        with self.engine.connect() as conn:
            return conn.execute(query).scalar()

    async def published(self, rkeys: list[str]) -> None:
        """Several rows published at once: one transaction."""
        self._write(update(OUTBOX).where(OUTBOX.c.rkey.in_(rkeys)).values(
            state="published", last_error="", updated_at=self._clock(),
            attempts=OUTBOX.c.attempts + 1,
        ))  # fmt: skip

    async def get(self, rkey: str) -> OutboxRecord | None:
        with Session(self.engine, expire_on_commit=False) as s:
            return s.get(OutboxRecord, rkey)

    async def mark(self, rkey: str, state: str, error: str = "", delay_s: float = 0.0) -> None:
        now = self._clock()
        self._write(update(OUTBOX).where(OUTBOX.c.rkey == rkey).values(
            state=state, last_error=error, updated_at=now, attempts=OUTBOX.c.attempts + 1,
            next_attempt_at=now + timedelta(seconds=delay_s),
        ))  # fmt: skip

    async def counts(self) -> dict[str, int]:
        query = select(OUTBOX.c.state, func.count()).group_by(OUTBOX.c.state)
        with self.engine.connect() as conn:
            return {state: int(n) for state, n in conn.execute(query).all()}

    async def prune_published(self, older_than: timedelta) -> None:
        cutoff = self._clock() - older_than
        self._write(delete(OUTBOX).where(
            OUTBOX.c.state == "published", OUTBOX.c.updated_at < cutoff))  # fmt: skip

    def _write(self, statement: Executable) -> int:
        """One statement in its own transaction; the rows it touched."""
        with self.engine.begin() as conn:
            return int(conn.execute(statement).rowcount)


class _RowInsert:
    """One outbox row inserted in its own transaction straight through the driver: the
    column types' own bind processors encode the values (the bytes SQLAlchemy would write),
    without the Core round of events, compilation lookup and result set-up (about 1 ms a
    transaction here, against 0.1 ms for the insert itself)."""

    def __init__(self, engine: Engine) -> None:
        dialect = engine.dialect
        self._columns = [c.name for c in OUTBOX.columns]
        self._encoders = [c.type.dialect_impl(dialect).bind_processor(dialect)
                          for c in OUTBOX.columns]  # fmt: skip
        marks = ", ".join("?" * len(self._columns))
        self._sql = f"INSERT INTO {OUTBOX.name} ({', '.join(self._columns)}) VALUES ({marks})"  # noqa: S608
        self._engine = engine

    def __call__(self, **values: Any) -> None:
        params = [
            values[name] if encode is None else encode(values[name])
            for name, encode in zip(self._columns, self._encoders, strict=True)
        ]
        connection = self._engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                cursor.execute(self._sql, params)
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")
        except sqlite3.IntegrityError:
            raise DuplicateKey("the outbox already holds a record at this rkey") from None
        except sqlite3.OperationalError as e:  # locked past the busy timeout, disk full, …
            raise TransactionConflict(f"the outbox could not be written: {e}") from None
        finally:
            connection.close()  # back to the pool (the one connection stays open)


class Publisher:
    """Publishes due rows, oldest first; `run()` loops until cancelled, woken by `wake()`."""

    def __init__(
        self,
        outbox: Outbox,
        client: AtprotoClient,
        *,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 300.0,
        rng: random.Random | None = None,
    ) -> None:
        self.outbox = outbox
        self._client = client
        self._initial = backoff_initial_s
        self._max = backoff_max_s
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not a secret)
        self._wake = asyncio.Event()
        self._stopped = False
        self.last_error = ""

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """Let `run()` return after its current step (cancelling a database call can hang)."""
        self._stopped = True
        self._wake.set()

    async def publish_due(self) -> int:
        """One pass over the due rows; returns how many were published."""
        rows = await self.outbox.due()
        batched = await self._publish_batch([r for r in rows if r.attempts == 0])
        published = len(batched)
        for row in rows:
            if row.rkey not in batched and await self._publish(row):
                published += 1
        return published

    async def _publish_batch(self, rows: list[OutboxRecord]) -> set[str]:
        """Fresh receipts in one commit (two or more); the rkeys it published."""
        if len(rows) < 2:
            return set()
        writes = [Create(parse_nsid(r.collection), r.record, parse_record_key(r.rkey))
                  for r in rows]  # fmt: skip
        try:
            results = await self._client.apply_writes(writes)
        except AtprotoError:
            return set()  # e.g. one already there (a crash after a put): one by one instead
        cids = [str(getattr(result, "cid", "")) for result in results]
        done = [r.rkey for r, cid in zip(rows, cids, strict=True) if cid == r.cid]
        if done:
            await self.outbox.published(done)
            for _ in done:
                events.receipt_published()
        self.last_error = ""
        return set(done)  # a CID that differs is put again alone, and marked failed there

    async def _publish(self, row: OutboxRecord) -> bool:
        try:
            result = await self._client.put_record(
                parse_nsid(row.collection), parse_record_key(row.rkey), row.record
            )
        except AtprotoError as e:
            self.last_error = e.code
            if isinstance(e, RETRYABLE):
                delay = min(self._max, self._initial * 2 ** min(row.attempts, 16))
                delay *= 0.75 + self._rng.random() / 2
                await self.outbox.mark(row.rkey, "pending", e.code, delay)
                events.receipt_publish_retry(e.code)
            else:
                await self.outbox.mark(row.rkey, "failed", e.code)
                events.receipt_publish_failed(e.code)
            return False
        if str(result.cid) != row.cid:  # a bug, never expected: the strongRef would not resolve
            await self.outbox.mark(row.rkey, "failed", "cid_mismatch")
            events.receipt_publish_failed("cid_mismatch")
            return False
        await self.outbox.mark(row.rkey, "published")
        self.last_error = ""
        events.receipt_published()
        return True

    async def run(self) -> None:
        while not self._stopped:
            self._wake.clear()
            await self.publish_due()
            await self._sleep_until_due()

    async def _sleep_until_due(self) -> None:
        if self._stopped:
            return
        nxt = await self.outbox.next_attempt_at()
        timeout = 3600.0
        if nxt is not None:
            timeout = max(0.0, (nxt - self.outbox.now()).total_seconds())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=max(timeout, 0.01))

    async def flush(self, timeout_s: float) -> None:
        """On shutdown: publish what is due, for at most `timeout_s` (the rest waits on disk)."""
        try:
            async with asyncio.timeout(timeout_s):
                while await self.outbox.due(1):
                    if not await self.publish_due():
                        return
        except TimeoutError:
            return
