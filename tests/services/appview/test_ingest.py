"""The fast ingest path keeps its guarantees: guarded upserts, all-or-nothing batches with their
cursor, restarts without gaps or duplicates (in process and with the child-process front)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
import sys
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from cocore.atproto import RecordOp
from cocore.atproto.frames import decode_frame
from cocore.lexicon import ids
from cocore.storage import upgrade
from cocore.syntax import Nsid
from services.appview import db as tables
from services.appview.bulk import Sql, upsert_sql
from services.appview.errors import StoreUnavailable
from services.appview.events import Events
from services.appview.front import FrontConfig
from services.appview.ingest import IngestDeps, SourceIngestor
from services.appview.items import Put
from services.appview.read import _page_sql
from services.appview.server import MIGRATIONS
from services.appview.worker import IngestWorkerFailed, run_front_in_child
from services.appview.write import row_spec
from tests.conftest import REPO
from tests.services.appview.chain import Rec
from tests.services.appview.conftest import Store
from tests.services.appview.firehose import error_frame, firehose, synthesise
from tests.services.appview.harness import CommittedCursor
from tests.services.appview.test_store import apply, make_chain, put


async def count(store: Store, table: Any) -> int:
    async with store.db.session() as s:
        return int((await s.execute(select(func.count()).select_from(table))).scalar_one())


async def add_source(store: Store, name: str) -> None:
    async with store.db.transaction() as s:
        await s.execute(tables.sources.insert().values(
            name=name, cursor=None, discovered=False, updated_at=store.clock()
        ))  # fmt: skip


async def test_the_bulk_upsert_never_lets_an_older_revision_win(store: Store) -> None:
    c = make_chain()
    newer = Rec(c.job.collection, c.job.repo, {**c.job.value, "maxTokensOut": 9}, c.job.rkey)
    await apply(store, put(store, newer, "3m0000000000b"))
    spec = row_spec(tables.jobs)

    async def upsert_past_the_writer(item: Put) -> None:
        # The statement the writer sends, without the writer's own revision check in front.
        async with store.db.transaction() as s:
            sql, _ = await Sql.begin(s, "SELECT 1")
            stmt = upsert_sql(sql.sqlite, "jobs", spec.columns, ("uri",), "rev")
            await sql.insert(stmt, [spec.row(item, sql.time(store.clock()), sql.time)])

    async def stored() -> tuple[Any, ...]:
        async with store.db.session() as s:
            query = select(tables.jobs.c.id, tables.jobs.c.rev, tables.jobs.c.body)
            return tuple((await s.execute(query)).one())

    before = await stored()
    older = put(store, c.job, "3m0000000000a")
    assert isinstance(older, Put)
    await upsert_past_the_writer(older)
    assert await stored() == before  # the stale replay was a no-op
    newest = put(store, c.job, "3m0000000000c")
    assert isinstance(newest, Put)
    await upsert_past_the_writer(newest)
    row_id, rev, body = await stored()
    assert (row_id, rev, json.loads(body)) == (before[0], "3m0000000000c", c.job.value)


async def test_a_batch_failing_midway_leaves_nothing_and_replays_exactly_once(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_source(store, "src")
    chains = [make_chain() for _ in range(3)]
    items = [put(store, rec, "3n0000000000a") for c in chains for rec in (c.receipt, c.job)]
    append = Sql.append

    async def feed_insert_fails(
        self: Sql, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
    ) -> None:
        if table == "feed":  # after the rows and tombstones
            raise StoreUnavailable("the disk went away")
        await append(self, table, columns, rows)

    monkeypatch.setattr(Sql, "append", feed_insert_fails)
    with pytest.raises(StoreUnavailable):
        await apply(store, *items, cursor=7)
    for table in (tables.receipts, tables.jobs, tables.feed, tables.repos, tables.activity):
        assert await count(store, table) == 0, table.name
    async with store.db.session() as s:
        assert (await s.execute(select(tables.sources.c.cursor))).scalar_one() is None
        assert (await s.execute(select(tables.feed_head.c.seq))).scalar_one() == 0

    monkeypatch.setattr(Sql, "append", append)
    out = await apply(store, *items, cursor=7)
    assert (out.created, out.head) == (6, 6)
    again = await apply(store, *items, cursor=7)  # a replay after the crash: nothing new
    assert (again.stale, again.created, again.head) == (6, 0, 6)
    async with store.db.session() as s:
        feed = (await s.execute(select(tables.feed.c.seq, tables.feed.c.uri))).all()
        assert (await s.execute(select(tables.sources.c.cursor))).scalar_one() == 7
    assert sorted(seq for seq, _ in feed) == [1, 2, 3, 4, 5, 6]
    assert len({uri for _, uri in feed}) == 6


def expected_rows(frames: list[bytes]) -> dict[Nsid, set[str]]:
    """URIs each collection holds once the whole stream is applied (creates minus deletes)."""
    live: dict[Nsid, set[str]] = {ids.COMPUTE_RECEIPT: set(), ids.COMPUTE_JOB: set()}
    for frame in frames:
        for op in decode_frame(frame).events:
            assert isinstance(op, RecordOp)
            uris = live[op.collection]
            (uris.add if op.action == "create" else uris.discard)(str(op.uri))
    return live


@pytest.mark.parametrize("worker", [False, True], ids=["in-process", "child-process"])
async def test_a_restart_mid_stream_resumes_without_gaps_or_duplicates(
    store: Store, worker: bool
) -> None:
    frames = synthesise(400)
    expected = expected_rows(frames)

    def ingestor(url: str, events: Events) -> SourceIngestor:
        deps = IngestDeps(
            store.db, store.writer, store.validator, events, store.clock, plc_url=url
        )  # the replay server serves the repos' DID documents
        return SourceIngestor(
            url, deps, on_applied=lambda _: None, worker=worker, max_write_events=40,
            linger_s=0.001, marker_interval_s=0.05,
        )  # fmt: skip

    async with firehose(frames) as url:
        first = CommittedCursor()
        task = asyncio.create_task(ingestor(url, first).run())
        await first.reaches(150)
        task.cancel()  # most likely inside a transaction: it rolls back, the cursor with it
        await asyncio.gather(task, return_exceptions=True)
        second = CommittedCursor()
        task = asyncio.create_task(ingestor(url, second).run())
        try:
            await second.reaches(400)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async with store.db.session() as s:
        for collection, uris in expected.items():
            table = tables.RECORD_TABLES[collection]
            assert set((await s.execute(select(table.c.uri))).scalars()) == uris
        feed = (await s.execute(select(tables.feed.c.seq, tables.feed.c.action,
                                       tables.feed.c.uri))).all()  # fmt: skip
        assert (await s.execute(select(tables.sources.c.cursor))).scalar_one() == 400
    creates = [uri for _, action, uri in feed if action == "create"]
    assert len(creates) == len(set(creates)) == 360  # every create once: 9 in 10 frames
    assert sorted(seq for seq, _, _ in feed) == list(range(1, len(feed) + 1))


async def test_a_failing_child_front_is_reported_for_a_restart() -> None:
    chunks: list[Any] = []

    async def emit(chunk: list[Any]) -> None:
        chunks.append(chunk)

    async with firehose([error_frame("FutureCursor")]) as url:
        with pytest.raises(IngestWorkerFailed, match="FirehoseFutureCursor"):
            await asyncio.wait_for(run_front_in_child(FrontConfig(url, 0), emit), 60)


async def test_the_child_front_exits_when_its_parent_goes_away() -> None:
    async with firehose([]) as url:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.appview.worker", cwd=REPO,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(dataclasses.asdict(FrontConfig(url, None))).encode() + b"\n")
        await proc.stdin.drain()
        proc.stdin.close()  # what the child sees when its parent dies, however it dies
        assert await asyncio.wait_for(proc.wait(), 60) == 0


@pytest.mark.parametrize("where", [
    ("repo",), ("requester",), ("job_uri",), ("repo", "requester"),
])  # fmt: skip
async def test_every_receipt_list_is_one_index_range_without_a_sort(
    sqlite_db_url: str, where: tuple[str, ...]
) -> None:
    await upgrade(sqlite_db_url, MIGRATIONS)
    conn = sqlite3.connect(str(make_url(sqlite_db_url).database))
    try:
        for after in (False, True):  # the first page, then the next after a cursor
            sql = _page_sql(tables.receipts, where, after, False).replace("?", "'x'")
            plan = " / ".join(r[-1] for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
            assert "USING INDEX" in plan and "TEMP B-TREE" not in plan, plan
            if len(where) == 2:
                assert "ix_receipts_repo_requester_id" in plan, plan
    finally:
        conn.close()


async def test_the_migrations_create_exactly_the_models_tables(store: Store) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    async with store.db.engine.connect() as conn:
        diff = await conn.run_sync(
            lambda c: compare_metadata(MigrationContext.configure(c), tables.Base.metadata)
        )
    assert diff == []


async def test_postgres_batches_plan_afresh_and_the_setting_stays_in_the_batch(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plan PostgreSQL cached while a table was empty must not outlive the table's growth:
    the writer's statements are planned per batch, and the session keeps its default."""
    if store.db.dialect != "postgresql":
        pytest.skip("PostgreSQL's plan cache")
    seen: list[str] = []
    insert = Sql.insert

    async def noting(self: Sql, sql: str, rows: Any) -> None:
        seen.append((await self.rows("SHOW plan_cache_mode"))[0][0])
        await insert(self, sql, rows)

    monkeypatch.setattr(Sql, "insert", noting)
    c = make_chain()
    await apply(store, put(store, c.receipt, "3n0000000000a"), put(store, c.job, "3n0000000000a"))
    assert seen and set(seen) == {"force_custom_plan"}
    async with store.db.session() as s:
        outside = (await s.execute(select(func.current_setting("plan_cache_mode")))).scalar_one()
    assert outside == "auto"
