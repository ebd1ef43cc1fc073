"""Applying a `WriteBatch` in one transaction: revision-guarded rows, the feed and the cursor.

Every writer locks the single `feed_head` row first, so writers are serialised on both
backends (SQLite's BEGIN IMMEDIATE already does it) and feed seqs commit in order. Reading the
rows a batch touches inside that lock makes the version checks race-free.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cocore.storage import Database
from cocore.syntax import Nsid

from .bulk import insert_rows
from .db import (
    RECORD_TABLES,
    feed,
    feed_head,
    new_repo_row,
    receipts,
    rejections,
    repos,
    sources,
    tombstones,
)
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

CHUNK = 500  # bound on `IN (…)` lists and statement sizes


@dataclass(slots=True)
class _State:
    exists: bool
    rev: str | None
    cid: str | None
    put: Put | None = None
    tombstone: bool = False


class StoreWriter:
    """The only code that writes the index; callers build batches, this applies them."""

    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._clock = clock

    async def apply(self, batch: WriteBatch) -> Outcome:
        async with self._db.transaction() as session:
            txn = _Txn(session, self._clock(), batch)
            await txn.lock()
            segment: list[RecordItem] = []
            for item in batch.items:
                if isinstance(item, Put | Remove | Rejection):
                    segment.append(item)
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
    def __init__(self, session: AsyncSession, now: datetime, batch: WriteBatch) -> None:
        self.s, self.now, self.batch = session, now, batch
        self.outcome = Outcome()
        self.feed_rows: list[dict[str, Any]] = []
        self.rejection_rows: dict[str, dict[str, Any]] = {}
        self.deltas = Deltas()

    async def lock(self) -> None:
        query = select(feed_head.c.seq).where(feed_head.c.id == 1).with_for_update()
        self.outcome.head = int((await self.s.execute(query)).scalar_one())

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
        await self.deltas.flush(self.s, self.now)

    async def _table(self, table: Table, items: list[RecordItem]) -> None:
        uris = list(dict.fromkeys(i.uri for i in items))
        extra = [table.c[c] for c in ROLLUP_COLUMNS] if table is receipts else []
        cols = [table.c.uri, table.c.rev, table.c.cid, table.c.repo, *extra]
        existing = {r.uri: r._asdict() for r in await _select_in(self.s, cols, table.c.uri, uris)}
        tombs = {
            r.uri: r.rev
            for r in await _select_in(self.s, [tombstones.c.uri, tombstones.c.rev],
                                      tombstones.c.uri, uris)
        }  # fmt: skip
        state = {}
        for uri in uris:
            row = existing.get(uri)
            if row is None:
                state[uri] = _State(False, tombs.get(uri), None)
            else:
                state[uri] = _State(True, row["rev"], row["cid"])
        for item in items:
            self._step(state[item.uri], item)
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
            self.rejection_rows[item.uri] = _rejection_row(item, self.now)
        if st.exists:
            self._event("delete", item, None, None)
        st.exists, st.cid, st.put = False, None, None
        if not forced:
            st.rev, st.tombstone = item.rev, True

    def _event(self, action: str, item: RecordItem, cid: str | None, body: bytes | None) -> None:
        counter = {"create": "created", "update": "updated", "delete": "deleted"}[action]
        setattr(self.outcome, counter, getattr(self.outcome, counter) + 1)
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
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        deletes: list[str] = []
        tombs: list[dict[str, Any]] = []
        for uri, st in state.items():
            was = existing.get(uri)
            if st.exists and st.put is not None:
                row = _row(st.put, self.now)
                if was is None:
                    inserts.append(row)
                else:
                    updates.append({f"b_{k}": v for k, v in row.items()})
            elif not st.exists:
                if was is not None:
                    deletes.append(uri)
                if st.tombstone:
                    tombs.append({"uri": uri, "rev": st.rev})
            delta = _delta(was, st)
            if delta is not None:
                self.deltas.change(collection, *delta)
        await _write(self.s, table, inserts, updates, deletes)
        if tombs:
            await _delete_in(self.s, tombstones, tombstones.c.uri, [t["uri"] for t in tombs])
            await self.s.execute(insert(tombstones), tombs)

    async def _active_repos(self, dids: set[str]) -> set[str]:
        cols = [repos.c.did, repos.c.active]
        known = {r.did: r.active for r in await _select_in(self.s, cols, repos.c.did, list(dids))}
        new = sorted(dids - known.keys())
        if new and self.batch.origin == "firehose":
            source = self.batch.source
            await self.s.execute(insert(repos), [new_repo_row(d, source, self.now) for d in new])
            self.outcome.new_repos += len(new)
            known.update(dict.fromkeys(new, True))
        return {did for did, active in known.items() if active}

    # ------------------------------------------------------------ repo events

    async def repo_event(self, item: RepoItem) -> None:
        where = repos.c.did == item.did
        if isinstance(item, HandleChange):
            await self.s.execute(update(repos).where(where).values(handle=item.handle))
        elif isinstance(item, Resync):
            await self.s.execute(update(repos).where(where).values(backfill="pending"))
        elif isinstance(item, AccountStatus):
            await self._account(item)

    async def _account(self, item: AccountStatus) -> None:
        was = (await self.s.execute(select(repos.c.active).where(repos.c.did == item.did))).first()
        if was is None:
            return  # an account we never indexed anything for
        values: dict[str, Any] = {"active": item.active, "status": item.status}
        if item.active and not was.active:
            values["backfill"] = "pending"  # what it holds now is listed afresh
        await self.s.execute(update(repos).where(repos.c.did == item.did).values(values))
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
            for r in await self.s.execute(query):
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
        await self.s.execute(update(repos).where(where).values(values))

    # ------------------------------------------------------------ commit

    async def finish(self) -> None:
        if self.rejection_rows:
            uris = list(self.rejection_rows)
            await _delete_in(self.s, rejections, rejections.c.uri, uris)
            await self.s.execute(insert(rejections), list(self.rejection_rows.values()))
        if self.feed_rows:
            head = self.outcome.head
            for i, row in enumerate(self.feed_rows, start=1):
                row["seq"] = head + i
            await insert_rows(self.s, feed, self.feed_rows)
            self.outcome.head = head + len(self.feed_rows)
            self.outcome.feed = self.feed_rows
            await self.s.execute(
                update(feed_head).where(feed_head.c.id == 1).values(seq=self.outcome.head)
            )
        if self.batch.source is not None and self.batch.cursor is not None:
            await self.s.execute(
                update(sources)
                .where(sources.c.name == self.batch.source)
                .values(cursor=self.batch.cursor, updated_at=self.now)
            )


def _row(put: Put, now: datetime) -> dict[str, Any]:
    return {"uri": put.uri, "cid": put.cid, "repo": put.repo, "rkey": put.rkey, "rev": put.rev,
            "indexed_at": now, "body": put.body, **put.columns}  # fmt: skip


def _rejection_row(item: Rejection, now: datetime) -> dict[str, Any]:
    return {"uri": item.uri, "collection": str(item.collection), "repo": item.repo,
            "cid": item.cid, "rev": item.rev, "reason": item.reason,
            "detail": item.detail[:500], "rejected_at": now}  # fmt: skip


async def _write(
    s: AsyncSession,
    table: Table,
    inserts: list[dict[str, Any]],
    updates: list[dict[str, Any]],
    deletes: list[str],
) -> None:
    await insert_rows(s, table, inserts)
    if updates:
        names = [k[2:] for k in updates[0] if k != "b_uri"]
        stmt = (
            update(table)
            .where(table.c.uri == bindparam("b_uri"))
            .values({n: bindparam(f"b_{n}") for n in names})
        )
        for chunk in _chunks(updates):
            await s.execute(stmt, chunk)
    if deletes:
        await _delete_in(s, table, table.c.uri, deletes)


async def _select_in(s: AsyncSession, cols: list[Any], key: Any, values: list[str]) -> list[Any]:
    out: list[Any] = []
    for chunk in _chunks(values):
        out.extend(await s.execute(select(*cols).where(key.in_(chunk))))
    return out


async def _delete_in(s: AsyncSession, table: Table, key: Any, values: list[str]) -> None:
    for chunk in _chunks(values):
        await s.execute(delete(table).where(key.in_(chunk)))


def _chunks(items: list[Any]) -> Iterable[list[Any]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


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
