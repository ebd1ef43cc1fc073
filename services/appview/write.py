"""Applying a `WriteBatch` in one transaction: revision-guarded rows, the feed and the cursor.

Every writer locks the single `feed_head` row first, so writers are serialised on both
backends (SQLite's BEGIN IMMEDIATE already does it) and feed seqs commit in order. Reading the
rows a batch touches inside that lock makes the version checks race-free.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cocore.storage import FRESH_PLANS_SQL, Database
from cocore.syntax import Nsid

from .bulk import Sql, time_columns, update_sql, upsert_sql
from .db import RECORD_TABLES, feed, new_repo_row, receipts, repos
from .items import (
    AccountStatus,
    HandleChange,
    Outcome,
    Prune,
    Put,
    RecordItem,
    Rejection,
    Remove,
    RepoItem,
    Resync,
    WriteBatch,
)
from .rollup import ROLLUP_COLUMNS, Deltas

# A big transaction is cheaper per event (each hot index page is written once per commit) and
# so is a big statement round, but the event loop also serves queries: record changes go in
# rounds of SEGMENT_ITEMS, and the per-item Python yields the loop every YIELD_EVERY items.
SEGMENT_ITEMS = 1024
YIELD_EVERY = 32


@dataclass(slots=True)
class _State:
    exists: bool
    rev: str | None
    cid: str | None
    put: Put | None = None
    tombstone: bool = False


# Every writer locks the one feed_head row first (SQLite: BEGIN IMMEDIATE already). On
# PostgreSQL the same statement has the batch planned afresh (see `FRESH_PLANS_SQL`).
_LOCK = {
    True: "SELECT seq FROM feed_head WHERE id = 1",
    False: f"SELECT seq, {FRESH_PLANS_SQL} FROM feed_head WHERE id = 1 FOR UPDATE",  # noqa: S608
}


class StoreWriter:
    """The only code that writes the index; callers build batches, this applies them."""

    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._clock = clock

    async def apply(self, batch: WriteBatch) -> Outcome:
        async with self._db.transaction() as session:
            sql, rows = await Sql.begin(session, _LOCK[self._db.dialect == "sqlite"])
            txn = _Txn(sql, self._clock(), batch)
            txn.outcome.head = int(rows[0][0])
            segment: list[RecordItem] = []
            for item in batch.items:
                if isinstance(item, Put | Remove | Rejection):
                    segment.append(item)
                    if len(segment) >= SEGMENT_ITEMS:
                        await txn.records(segment)
                        segment = []
                    continue
                await txn.records(segment)
                segment = []
                await txn.repo_event(item)
            await txn.records(segment)
            if batch.prune is not None:
                await txn.prune(batch.prune)
            if batch.backfilled is not None:
                await txn.mark_backfilled(*batch.backfilled)
            await txn.finish()
            return txn.outcome


class _Txn:
    def __init__(self, sql: Sql, now: datetime, batch: WriteBatch) -> None:
        self.sql, self.now, self.batch = sql, now, batch
        self.at = sql.time(now)  # `now` as the driver takes it, converted once
        self.outcome = Outcome()
        self.feed_rows: list[dict[str, Any]] = []
        self.rejection_rows: dict[str, tuple[Any, ...]] = {}
        self.deltas = Deltas()

    @property
    def conn(self) -> AsyncConnection:
        return self.sql.conn  # SQLAlchemy Core for the rare repo-level paths

    # ------------------------------------------------------------ record changes

    async def records(self, items: Sequence[RecordItem]) -> None:
        if not items:
            return
        active = await self._active_repos({i.repo for i in items})
        by_table: dict[Table, list[RecordItem]] = {}
        for item in items:
            if item.repo in active or (isinstance(item, Remove) and item.force):
                by_table.setdefault(RECORD_TABLES[item.collection], []).append(item)
        for table, table_items in by_table.items():
            await self._table(table, table_items)

    async def _table(self, table: Table, items: list[RecordItem]) -> None:
        uris = list(dict.fromkeys(i.uri for i in items))
        cols = ("uri", "rev", "cid", "repo", *(ROLLUP_COLUMNS if table is receipts else ()))
        parse_time = self.sql.parse_time
        existing = {}
        for r in await self.sql.select_in(table.name, cols, "uri", uris):
            row = dict(zip(cols, r, strict=True))
            if "completed_at" in row:
                row["completed_at"] = parse_time(row["completed_at"])
            existing[r[0]] = row
        tombs = dict(await self.sql.select_in("tombstones", ("uri", "rev"), "uri", uris))
        state = {}
        for uri in uris:
            was = existing.get(uri)
            if was is None:
                state[uri] = _State(False, tombs.get(uri), None)
            else:
                state[uri] = _State(True, was["rev"], was["cid"])
        for i, item in enumerate(items, start=1):
            self._step(state[item.uri], item)
            if i % YIELD_EVERY == 0:
                await asyncio.sleep(0)
        await self._flush(table, items[0].collection, existing, state)

    def _step(self, st: _State, item: RecordItem) -> None:
        forced = isinstance(item, Remove) and item.force
        if not forced and st.rev is not None and item.rev <= st.rev:
            self.outcome.stale += 1
            return
        if isinstance(item, Put):
            if not (st.exists and st.cid == item.cid):  # same bytes again: no event
                self._event("update" if st.exists else "create", item, item.cid, item.body)
            st.exists, st.rev, st.cid, st.put, st.tombstone = True, item.rev, item.cid, item, False
            return
        if isinstance(item, Rejection):
            self.outcome.rejected += 1
            self.rejection_rows[item.uri] = _rejection_row(item, self.at)
        if st.exists:
            self._event("delete", item, None, None)
        st.exists, st.cid, st.put = False, None, None
        if not forced:
            st.rev, st.tombstone = item.rev, True

    def _event(self, action: str, item: RecordItem, cid: str | None, body: bytes | None) -> None:
        setattr(self.outcome, _COUNTERS[action], getattr(self.outcome, _COUNTERS[action]) + 1)
        self.feed_rows.append(
            {"action": action, "uri": item.uri, "collection": str(item.collection),
             "repo": item.repo, "rkey": item.rkey, "cid": cid, "rev": item.rev,
             "record": body, "indexed_at": self.now}
        )  # fmt: skip

    async def _flush(
        self,
        table: Table,
        collection: Nsid,
        existing: dict[str, dict[str, Any]],
        state: dict[str, _State],
    ) -> None:
        spec = row_spec(table)
        # New rows are plain inserts: under the writer lock no other writer can add them (if
        # one did, the unique index fails the batch, which is then retried). Updates are one
        # guarded upsert. (A plain insert costs PostgreSQL less than a speculative one.)
        new: list[tuple[Any, ...]] = []
        rows: list[tuple[Any, ...]] = []
        deletes: list[str] = []
        tombs: list[tuple[str, str]] = []
        for i, (uri, st) in enumerate(state.items(), start=1):
            if i % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            was = existing.get(uri)
            if st.exists and st.put is not None:
                (rows if was is not None else new).append(spec.row(st.put, self.at, self.sql.time))
            elif not st.exists:
                if was is not None:
                    deletes.append(uri)
                if st.tombstone and st.rev is not None:
                    tombs.append((uri, st.rev))
            delta = _delta(was, st)
            if delta is not None:
                self.deltas.change(collection, *delta)
        sqlite = self.sql.sqlite
        await self.sql.append(table.name, spec.columns, new)
        await self.sql.insert(upsert_sql(sqlite, table.name, spec.columns, ("uri",), "rev"), rows)
        await self.sql.delete_in(table.name, "uri", deletes)
        await self.sql.insert(upsert_sql(sqlite, "tombstones", _TOMBSTONE, ("uri",), "rev"), tombs)

    async def _active_repos(self, dids: set[str]) -> set[str]:
        known = {did: bool(active) for did, active in
                 await self.sql.select_in("repos", ("did", "active"), "did", dids)}  # fmt: skip
        new = sorted(dids - known.keys())
        if new and self.batch.origin == "firehose":
            source, to_time = self.batch.source, self.sql.time
            rows = [new_repo_row(d, source, self.now) for d in new]
            columns = tuple(rows[0])
            await self.sql.append("repos", columns, [
                tuple(to_time(v) if isinstance(v, datetime) else v for v in r.values())
                for r in rows
            ])  # fmt: skip
            self.outcome.new_repos += len(new)
            known.update(dict.fromkeys(new, True))
        return {did for did, active in known.items() if active}

    # ------------------------------------------------------------ repo events

    async def repo_event(self, item: RepoItem) -> None:
        where = repos.c.did == item.did
        if isinstance(item, HandleChange):
            await self.conn.execute(update(repos).where(where).values(handle=item.handle))
        elif isinstance(item, Resync):
            await self._active_repos({item.did})  # first sight: the row, pending a backfill
            await self.conn.execute(update(repos).where(where).values(backfill="pending"))
            self.outcome.resyncs += 1
        elif isinstance(item, AccountStatus):
            await self._account(item)

    async def _account(self, item: AccountStatus) -> None:
        query = select(repos.c.active).where(repos.c.did == item.did)
        was = (await self.conn.execute(query)).first()
        if was is None:
            return  # an account we never indexed anything for
        values: dict[str, Any] = {"active": item.active, "status": item.status}
        if item.active and not was.active:
            values["backfill"] = "pending"  # what it holds now is listed afresh
        await self.conn.execute(update(repos).where(repos.c.did == item.did).values(values))
        if was.active and not item.active:
            await self.records(await self._removals(item.did, force=True))

    async def _removals(
        self, did: str, *, force: bool, older_than: str | None = None
    ) -> list[RecordItem]:
        out: list[RecordItem] = []
        for collection, table in RECORD_TABLES.items():
            query = select(table.c.uri, table.c.rkey, table.c.rev).where(table.c.repo == did)
            if older_than is not None:
                query = query.where(table.c.rev < older_than)
            for r in await self.conn.execute(query):
                rev = older_than or r.rev
                out.append(Remove(r.uri, collection, did, r.rkey, rev, force=force))
        return out

    async def prune(self, prune: Prune) -> None:
        await self.records(await self._removals(prune.did, force=False, older_than=prune.rev))

    async def mark_backfilled(self, did: str, rev: str, handle: str | None) -> None:
        values: dict[str, Any] = {"backfill": "done", "backfill_rev": rev, "backfill_attempts": 0}
        if handle is not None:
            values["handle"] = handle
        # A resync asked for while this backfill ran set "pending" again: leave it pending.
        where = (repos.c.did == did) & (repos.c.backfill == "running")
        await self.conn.execute(update(repos).where(where).values(values))

    # ------------------------------------------------------------ commit

    async def finish(self) -> None:
        sql = self.sql
        # Totals once per transaction: each repo row and activity bucket is written once,
        # however many segments touched it (on PostgreSQL every update is a new row version).
        await self.deltas.flush(sql, self.now)
        if self.rejection_rows:
            stmt = upsert_sql(sql.sqlite, "rejections", _REJECTION, ("uri",))
            await sql.insert(stmt, list(self.rejection_rows.values()))
        if self.feed_rows:
            head = self.outcome.head
            for i, row in enumerate(self.feed_rows, start=1):
                row["seq"] = head + i
            at = self.at
            await sql.append("feed", _FEED, (
                (r["seq"], r["action"], r["uri"], r["collection"], r["repo"], r["rkey"],
                 r["cid"], r["rev"], r["record"], at)
                for r in self.feed_rows
            ))  # fmt: skip
            self.outcome.head = head + len(self.feed_rows)
            self.outcome.feed = self.feed_rows
            stmt = update_sql(sql.sqlite, "feed_head", ("seq",), "id")
            await sql.execute(stmt, (self.outcome.head, 1))
        if self.batch.source is not None and self.batch.cursor is not None:
            stmt = update_sql(sql.sqlite, "sources", ("cursor", "updated_at"), "name")
            await sql.execute(stmt, (self.batch.cursor, self.at, self.batch.source))


@dataclass(frozen=True, slots=True)
class RowSpec:
    """A record table's column order for the upsert, and which extra columns are times."""

    columns: tuple[str, ...]
    extra: tuple[tuple[str, bool], ...]

    def row(self, put: Put, at: Any, to_time: Callable[[datetime], Any]) -> tuple[Any, ...]:
        cols = put.columns
        extra = [
            to_time(v) if is_time and v is not None else v
            for v, is_time in ((cols.get(name), is_time) for name, is_time in self.extra)
        ]
        return (put.uri, put.cid, put.repo, put.rkey, put.rev, at, *extra, put.body)


@functools.cache
def row_spec(table: Table) -> RowSpec:
    head = ("uri", "cid", "repo", "rkey", "rev", "indexed_at")
    extra = tuple(c.name for c in table.c if c.name not in (*head, "id", "body"))
    times = time_columns(table)
    return RowSpec((*head, *extra, "body"), tuple((c, c in times) for c in extra))


_COUNTERS = {"create": "created", "update": "updated", "delete": "deleted"}
_TOMBSTONE = ("uri", "rev")
_REJECTION = ("uri", "collection", "repo", "cid", "rev", "reason", "detail", "rejected_at")
_FEED = ("seq", "action", "uri", "collection", "repo", "rkey", "cid", "rev", "record",
         "indexed_at")  # fmt: skip
assert tuple(c.name for c in feed.c) == _FEED, "feed rows are written in the table's column order"


def _rejection_row(item: Rejection, at: Any) -> tuple[Any, ...]:
    return (item.uri, str(item.collection), item.repo, item.cid, item.rev, item.reason,
            item.detail[:500], at)  # fmt: skip


def _delta(
    was: dict[str, Any] | None, st: _State
) -> tuple[str, dict[str, Any] | None, dict[str, Any] | None] | None:
    """(repo, old columns, new columns) when the row's content changed, else None."""
    if st.exists:
        if st.put is None or (was is not None and was["cid"] == st.put.cid):
            return None  # untouched, or the same bytes at a newer revision
        return st.put.repo, was, st.put.columns
    if was is None:
        return None
    return str(was["repo"]), was, None
