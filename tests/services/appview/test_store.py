"""The index's write path: revision order, deletes, rejections, the feed, cursors, purges."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select

from cocore.crypto import SigningKey
from cocore.lexicon import ids
from services.appview import db as tables
from services.appview.events import Events
from services.appview.items import (
    AccountStatus,
    HandleChange,
    Prune,
    Put,
    Rejection,
    Remove,
    Resync,
    WriteBatch,
)
from services.appview.translate import record_item
from tests.services.appview.chain import Chain, Rec, chain
from tests.services.appview.conftest import Store

PROVIDER = "did:plc:provideraaaaaaaaaaaaaaaa"
REQUESTER = "did:plc:requesteraaaaaaaaaaaaaaa"
EXCHANGE = "did:plc:exchangeaaaaaaaaaaaaaaaa"


def make_chain(**kw: Any) -> Chain:
    return chain(
        provider=PROVIDER,
        requester=REQUESTER,
        exchange=EXCHANGE,
        provider_key=SigningKey.generate(),
        exchange_key=SigningKey.generate(),
        **kw,
    )


def put(store: Store, rec: Rec, rev: str) -> Put | Rejection:
    return record_item(
        store.validator,
        Events(),
        uri=rec.uri,
        collection=rec.collection,
        repo=rec.repo,
        rkey=rec.rkey,
        rev=rev,
        cid=rec.cid,
        record=rec.value,
    )


def remove(rec: Rec, rev: str) -> Remove:
    return Remove(rec.uri, rec.collection, rec.repo, rec.rkey, rev)


async def feed_rows(store: Store) -> list[Any]:
    async with store.db.session() as s:
        return list(await s.execute(select(tables.feed).order_by(tables.feed.c.seq)))


async def apply(store: Store, *items: Any, **kw: Any) -> Any:
    return await store.writer.apply(WriteBatch(list(items), source="src", **kw))


async def test_create_update_delete_and_the_feed(store: Store) -> None:
    c = make_chain()
    out = await apply(
        store, put(store, c.receipt, "3a0000000000a"), put(store, c.job, "3a0000000000a")
    )
    assert (out.created, out.head, out.new_repos) == (2, 2, 2)
    got = await store.reader.get(ids.COMPUTE_RECEIPT, c.receipt.uri)
    assert got is not None and got.cid == c.receipt.cid and json.loads(got.body) == c.receipt.value

    changed = Rec(c.job.collection, c.job.repo, {**c.job.value, "maxTokensOut": 7}, c.job.rkey)
    out = await apply(
        store, put(store, changed, "3a0000000000b"), remove(c.receipt, "3a0000000000c")
    )
    assert (out.updated, out.deleted, out.head) == (1, 1, 4)
    assert await store.reader.get(ids.COMPUTE_RECEIPT, c.receipt.uri) is None
    rows = await feed_rows(store)
    assert [(r.seq, r.action, r.uri) for r in rows] == [
        (1, "create", c.receipt.uri),
        (2, "create", c.job.uri),
        (3, "update", c.job.uri),
        (4, "delete", c.receipt.uri),
    ]
    assert rows[2].cid == changed.cid and rows[3].record is None


async def test_stale_replays_never_overwrite_or_resurrect(store: Store) -> None:
    c = make_chain()
    newer = Rec(c.job.collection, c.job.repo, {**c.job.value, "maxTokensOut": 9}, c.job.rkey)
    await apply(store, put(store, newer, "3b0000000000b"), put(store, c.receipt, "3b0000000000a"))
    await apply(store, remove(c.receipt, "3b0000000000c"))
    out = await apply(
        store, put(store, c.job, "3b0000000000a"), put(store, c.receipt, "3b0000000000b")
    )
    assert (out.stale, out.created, out.updated) == (2, 0, 0)
    job = await store.reader.get(ids.COMPUTE_JOB, c.job.uri)
    assert job is not None and job.cid == newer.cid
    assert await store.reader.get(ids.COMPUTE_RECEIPT, c.receipt.uri) is None
    # Re-applying the same version (a replay after a crash) changes nothing and emits nothing.
    head = (await apply(store, put(store, newer, "3b0000000000b"))).head
    assert head == 3 and len(await feed_rows(store)) == 3


async def test_cursor_moves_with_the_rows(store: Store) -> None:
    async with store.db.transaction() as s:
        await s.execute(
            tables.sources.insert().values(
                name="src", cursor=None, discovered=False, updated_at=store.clock()
            )
        )
    c = make_chain()
    await apply(store, put(store, c.job, "3c0000000000a"), cursor=41)
    async with store.db.session() as s:
        assert (await s.execute(select(tables.sources.c.cursor))).scalar_one() == 41


async def test_invalid_version_is_skipped_with_a_reason_and_hides_the_old_one(store: Store) -> None:
    c = make_chain()
    await apply(store, put(store, c.job, "3d0000000000a"))
    broken = Rec(c.job.collection, c.job.repo, {**c.job.value, "maxTokensOut": "lots"}, c.job.rkey)
    item = put(store, broken, "3d0000000000b")
    assert isinstance(item, Rejection) and item.reason == "lexicon-invalid"
    out = await apply(store, item)
    assert (out.rejected, out.deleted) == (1, 1)
    assert await store.reader.get(ids.COMPUTE_JOB, c.job.uri) is None
    async with store.db.session() as s:
        row = (await s.execute(select(tables.rejections))).one()
    assert (row.uri, row.reason) == (c.job.uri, "lexicon-invalid")
    assert "maxTokensOut" in row.detail


async def test_foreign_owned_records_are_rejected() -> None:
    from services.appview.validate import RecordValidator, Rejected

    c = make_chain()
    # A receipt published in the requester's repo is not the provider's receipt.
    verdict = RecordValidator().check(
        c.receipt.collection, REQUESTER, c.receipt.rkey, c.receipt.value
    )
    assert isinstance(verdict, Rejected) and verdict.reason == "owner-mismatch"
    policy = {**c.policy.value, "exchange": PROVIDER}
    verdict = RecordValidator().check(c.policy.collection, EXCHANGE, c.policy.rkey, policy)
    assert isinstance(verdict, Rejected) and verdict.reason == "owner-mismatch"
    verdict = RecordValidator(exchanges={PROVIDER}).check(
        c.settlement.collection, EXCHANGE, c.settlement.rkey, c.settlement.value
    )
    assert isinstance(verdict, Rejected) and "not a configured exchange" in verdict.detail


async def test_paging_is_keyset_and_complete(store: Store) -> None:
    chains = [make_chain() for _ in range(7)]
    await apply(store, *(put(store, c.receipt, "3e0000000000a") for c in chains))
    seen: list[str] = []
    cursor = None
    while True:
        page = await store.reader.page(ids.COMPUTE_RECEIPT, {"repo": PROVIDER}, 3, cursor)
        seen += [r.uri for r in page.records]
        if page.cursor is None:
            break
        cursor = page.cursor
    assert seen == [c.receipt.uri for c in reversed(chains)]


async def test_activity_rollup_follows_creates_updates_and_deletes(store: Store) -> None:
    a, b = make_chain(price=10), make_chain(price=20)
    await apply(
        store, put(store, a.receipt, "3f0000000000a"), put(store, b.receipt, "3f0000000000a")
    )
    await apply(store, remove(a.receipt, "3f0000000000b"))
    async with store.db.session() as s:
        rows = (
            await s.execute(select(tables.activity).where(tables.activity.c.granularity == "h"))
        ).all()
        counts = (
            await s.execute(
                select(tables.repos.c.receipt_count).where(tables.repos.c.did == PROVIDER)
            )
        ).scalar_one()
    assert sum(r.requests for r in rows) == 1 and sum(r.tokens for r in rows) == 42
    assert counts == 1


async def test_activity_buckets_are_utc_whatever_the_offset_and_a_delete_nets_to_zero(
    store: Store,
) -> None:
    # 10:45:30 at +05:30 is 05:15:30 UTC: the hour bucket is 05:00 UTC, not 10:00 local
    # (04:30 UTC), which is also where the delete (reading the stored UTC value) subtracts.
    completed = datetime(2026, 1, 1, 10, 45, 30, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    columns = {"model": "m1", "completed_at": completed, "tokens_in": 3, "tokens_out": 4}
    uri = f"at://{PROVIDER}/{ids.COMPUTE_RECEIPT}/3aaaaaaaaaaaa"
    item = Put(uri, ids.COMPUTE_RECEIPT, PROVIDER, "3aaaaaaaaaaaa", "3g0000000000a", "bafy",
               b"{}", columns)  # fmt: skip

    async def buckets() -> set[tuple[str, datetime, int, int]]:
        async with store.db.session() as s:
            rows = (await s.execute(select(tables.activity))).all()
        return {(r.granularity, r.bucket, r.requests, r.tokens) for r in rows}

    await apply(store, item)
    assert await buckets() == {
        ("m", datetime(2026, 1, 1, 5, 15, tzinfo=UTC), 1, 7),
        ("h", datetime(2026, 1, 1, 5, 0, tzinfo=UTC), 1, 7),
    }
    await apply(store, Remove(uri, ids.COMPUTE_RECEIPT, PROVIDER, "3aaaaaaaaaaaa", "3g0000000000b"))
    assert {(g, b, r, t) for g, b, r, t in await buckets() if r or t} == set()


async def test_account_deactivation_purges_and_backfill_prunes(store: Store) -> None:
    c = make_chain()
    await apply(
        store, put(store, c.receipt, "3g0000000000a"), put(store, c.attestation, "3g0000000000a")
    )
    out = await apply(store, AccountStatus(PROVIDER, False, "deactivated"))
    assert out.deleted == 2
    async with store.db.session() as s:
        assert (
            await s.execute(select(func.count()).select_from(tables.receipts))
        ).scalar_one() == 0
    # Writes for an inactive repo are ignored until it comes back.
    assert (await apply(store, put(store, c.receipt, "3g0000000000b"))).created == 0
    await apply(store, AccountStatus(PROVIDER, True, None))
    out = await store.writer.apply(
        WriteBatch(
            [put(store, c.receipt, "3g0000000000c")],
            origin="backfill",
            prune=Prune(PROVIDER, "3g0000000000c"),
        )
    )
    assert out.created == 1 and out.deleted == 0


async def test_identity_and_sync_events_update_the_repo(store: Store) -> None:
    c = make_chain()
    await apply(store, put(store, c.job, "3j0000000000a"))
    async with store.db.transaction() as s:
        await s.execute(tables.repos.update().values(backfill="done"))
    await apply(store, HandleChange(REQUESTER, "alice.test"), Resync(REQUESTER))
    async with store.db.session() as s:
        row = (await s.execute(select(tables.repos).where(tables.repos.c.did == REQUESTER))).one()
    assert (row.handle, row.backfill) == ("alice.test", "pending")


async def test_prune_removes_rows_a_listing_did_not_return(store: Store) -> None:
    kept, gone = make_chain(), make_chain()
    await apply(store, put(store, kept.job, "3k0000000000a"), put(store, gone.job, "3k0000000000a"))
    listing = WriteBatch([put(store, kept.job, "3k0000000000c")], origin="backfill")
    assert (await store.writer.apply(listing)).updated == 0  # same bytes: no event
    out = await store.writer.apply(
        WriteBatch(origin="backfill", prune=Prune(REQUESTER, "3k0000000000c"))
    )
    assert out.deleted == 1
    assert await store.reader.get(ids.COMPUTE_JOB, gone.job.uri) is None
    assert await store.reader.get(ids.COMPUTE_JOB, kept.job.uri) is not None
