"""The AppView fed by the real PDS: firehose ingest, deletes, rejections, restart, convergence."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select

from cocore.atproto import IdentityResolver
from cocore.crypto import SigningKey
from cocore.lexicon import ids
from cocore.storage import Database, upgrade
from cocore.syntax import parse_did, parse_nsid, parse_record_key
from services.appview.db import feed, rejections, repos
from services.appview.errors import RecordNotFound
from services.appview.fetch import RecordFetcher
from services.appview.read import RecordReader
from services.appview.server import MIGRATIONS, AppView
from tests.fixtures.atproto import Account, AtprotoStack
from tests.services.appview.chain import Chain, Rec, chain
from tests.services.appview.harness import eventually, indexed, rows, running

pytestmark = pytest.mark.pds


async def publish(accounts: dict[str, Account], records: list[Rec]) -> None:
    for rec in records:
        result = await accounts[rec.repo].client.create_record(
            rec.collection, rec.value, parse_record_key(rec.rkey)
        )
        assert result.cid == rec.cid


async def new_chain(
    accounts: dict[str, Account], provider: str, requester: str, exchange: str, **kw: Any
) -> Chain:
    c = chain(
        provider=provider,
        requester=requester,
        exchange=exchange,
        provider_key=SigningKey.generate(),
        exchange_key=SigningKey.generate(),
        **kw,
    )
    await publish(
        accounts, [c.authorization, c.job, c.attestation, c.receipt, c.policy, c.settlement]
    )
    return c


async def ground_truth(stack: AtprotoStack, dids: set[str]) -> set[tuple[str, str]]:
    client = stack.anonymous()
    out: set[tuple[str, str]] = set()
    for did in dids:
        description = await client.describe_repo(parse_did(did))
        for collection in description.collections:
            if collection.startswith("dev.cocore."):
                async for view in client.iter_records(parse_did(did), parse_nsid(collection)):
                    out.add((str(view.uri), str(view.cid)))
    return out


async def feed_actions(app: AppView, dids: set[str]) -> list[tuple[str, str, str | None]]:
    async with app.db.session() as s:
        result = await s.execute(
            select(feed.c.action, feed.c.uri, feed.c.cid)
            .where(feed.c.repo.in_(dids))
            .order_by(feed.c.seq)
        )
        return [(r.action, r.uri, r.cid) for r in result]


@pytest.fixture
async def three(atproto_stack: AtprotoStack) -> dict[str, Account]:
    accounts = [await atproto_stack.create_account() for _ in range(3)]
    return {str(a.client.did): a for a in accounts}


@pytest.mark.parametrize("workers", [False, True], ids=["in-process", "ingest-worker"])
async def test_records_deletes_and_rejections_flow_through_the_firehose(
    atproto_stack: AtprotoStack, three: dict[str, Account], sqlite_db_url: str, workers: bool
) -> None:
    provider, requester, exchange = list(three)
    async with running(atproto_stack, sqlite_db_url, ingest_workers=workers) as app:
        await eventually(lambda: _connected(app), "the firehose to connect")
        c = await new_chain(three, provider, requester, exchange)
        want = {
            (r.uri, r.cid)
            for r in (c.authorization, c.job, c.attestation, c.receipt, c.policy, c.settlement)
        }

        async def all_there() -> bool:
            return await indexed(app, set(three)) == want

        await eventually(all_there, "three accounts' records to be indexed")

        await three[requester].client.delete_record(c.job.collection, parse_record_key(c.job.rkey))
        broken = Rec(ids.COMPUTE_JOB, requester, {**c.job.value, "maxTokensOut": "lots"})
        foreign = Rec(
            ids.COMPUTE_RECEIPT, requester, c.receipt.value
        )  # the provider's receipt, copied
        await publish(three, [broken, foreign])

        async def settled() -> bool:
            async with app.db.session() as s:
                got = {r.uri: r.reason for r in await s.execute(select(rejections))}
            return (
                await indexed(app, set(three)) == want - {(c.job.uri, c.job.cid)}
                and got.get(broken.uri) == "lexicon-invalid"
                and got.get(foreign.uri) == "owner-mismatch"
            )

        await eventually(settled, "the delete and two rejections")
        actions = await feed_actions(app, set(three))
        assert ("delete", c.job.uri, None) in actions
        assert all(uri not in (broken.uri, foreign.uri) for _, uri, _ in actions)


async def test_restart_resumes_without_gaps_or_duplicates_and_a_second_appview_agrees(
    atproto_stack: AtprotoStack,
    three: dict[str, Account],
    sqlite_db_url: str,
    postgres_db_url: str,
) -> None:
    provider, requester, exchange = list(three)
    dids = set(three)
    async with running(atproto_stack, sqlite_db_url) as app:
        await eventually(lambda: _connected(app), "the firehose to connect")
        first = [await new_chain(three, provider, requester, exchange) for _ in range(2)]
        await eventually(lambda: _matches(app, atproto_stack, dids), "the first records")
    # While the AppView is down: more records, an update and a delete.
    more = [await new_chain(three, requester, provider, exchange) for _ in range(2)]
    updated = Rec(
        ids.COMPUTE_EXCHANGE_POLICY,
        exchange,
        {**first[0].policy.value, "active": False},
        first[0].policy.rkey,
    )
    policy_key = parse_record_key(updated.rkey)
    receipt_key = parse_record_key(first[1].receipt.rkey)
    await three[exchange].client.put_record(updated.collection, policy_key, updated.value)
    await three[provider].client.delete_record(ids.COMPUTE_RECEIPT, receipt_key)

    async with running(atproto_stack, sqlite_db_url) as app:
        await eventually(lambda: _matches(app, atproto_stack, dids), "the restart to catch up")
        creates = Counter(
            uri for action, uri, _ in await feed_actions(app, dids) if action == "create"
        )
        assert creates and max(creates.values()) == 1, "a record was created twice in the feed"
        assert ("update", updated.uri, updated.cid) in await feed_actions(app, dids)
        assert more[0].receipt.uri in dict(creates)
        expected = await rows(app, dids)

        async with running(atproto_stack, postgres_db_url) as late:  # starts after all writes

            async def backfill_states() -> dict[str, str]:
                async with late.db.session() as s:
                    result = await s.execute(
                        select(repos.c.did, repos.c.backfill).where(repos.c.did.in_(dids))
                    )
                    return {r.did: r.backfill for r in result}

            async def agrees() -> bool:
                # Rows can match a moment before each backfill job marks itself done.
                done = await backfill_states() == dict.fromkeys(dids, "done")
                return done and await rows(late, dids) == expected

            await eventually(agrees, "a late second AppView to converge by backfill")


async def _connected(app: AppView) -> bool:
    return all(i.connected for i in app.ingestors.values())


async def _matches(app: AppView, stack: AtprotoStack, dids: set[str]) -> bool:
    return await indexed(app, dids) == await ground_truth(stack, dids)


async def test_records_missing_from_the_index_come_from_their_pds(
    atproto_stack: AtprotoStack, three: dict[str, Account], sqlite_db_url: str
) -> None:
    provider, requester, exchange = list(three)
    c = await new_chain(three, provider, requester, exchange)  # no AppView saw these
    await upgrade(sqlite_db_url, MIGRATIONS)
    resolver = IdentityResolver(atproto_stack.plc_url, allow_insecure_loopback=True)
    async with Database.from_url(sqlite_db_url) as db, resolver:
        fetcher = RecordFetcher(RecordReader(db), resolver)
        assert await fetcher.by_ref(c.job.ref, ids.COMPUTE_JOB, "job") == c.job.value
        missing = {"uri": c.job.uri.replace(c.job.rkey, "3aaaaaaaaaaaa"), "cid": c.job.cid}
        with pytest.raises(RecordNotFound):
            await fetcher.by_ref(missing, ids.COMPUTE_JOB, "job")
        with pytest.raises(RecordNotFound):
            await fetcher.by_ref(c.job.ref, ids.COMPUTE_RECEIPT, "receipt")
