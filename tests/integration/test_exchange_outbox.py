"""The outbox against the real PDS: an outage delays publication but never loses or doubles a
record, and a replay after a crash (the PDS took the write, the row was not marked) is a no-op."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, update

from cocore.atproto import AtprotoClient, AtprotoUnavailable
from cocore.lexicon import ids
from services.exchange import db
from services.exchange.publisher import Publisher
from services.exchange.settlement import Settled
from tests.fixtures.atproto import Account, AtprotoStack
from tests.services.exchange.conftest import Harness, close_harness, open_harness

pytestmark = pytest.mark.pds


@pytest.fixture
async def exchange_account(atproto_stack: AtprotoStack) -> Account:
    return await atproto_stack.create_account()


@pytest.fixture
async def harness(sqlite_db_url: str, exchange_account: Account) -> AsyncIterator[Harness]:
    h = await open_harness(sqlite_db_url, did=exchange_account.client.did)
    try:
        yield h
    finally:
        await close_harness(h)


async def _states(h: Harness) -> list[tuple[str, int]]:
    query = select(db.OUTBOX.c.state, db.OUTBOX.c.attempts).order_by(db.OUTBOX.c.seq)
    async with h.db.session() as session:
        return [(r.state, r.attempts) for r in (await session.execute(query)).all()]


async def test_an_outage_delays_and_a_replay_changes_nothing(
    harness: Harness, exchange_account: Account, atproto_stack: AtprotoStack
) -> None:
    h = harness
    up = {"pds": False}

    async def connect() -> AtprotoClient:
        if not up["pds"]:
            raise AtprotoUnavailable("the PDS is down (simulated)")
        return await AtprotoClient.login(atproto_stack.pds_url, exchange_account.handle,
                                         exchange_account.password)  # fmt: skip

    publisher = Publisher(h.db, connect, h.clock)
    bundle = h.factory.bundle(h.factory.did(), h.factory.provider())
    settled = await h.exchange.settle(bundle)
    assert isinstance(settled, Settled)
    rows = len(await _states(h))  # policy, attestation, two grants, the settlement

    assert await publisher.publish_due() == 0  # down: nothing is published, nothing is lost
    assert await _states(h) == [("pending", 1)] * rows
    assert await publisher.publish_due() == 0  # backing off: not even retried yet
    assert await _states(h) == [("pending", 1)] * rows

    up["pds"] = True
    h.clock.tick(minutes=5)
    assert await publisher.publish_due() == rows
    assert await _states(h) == [("published", 2)] * rows

    # A crash between the PDS write and marking the row: the row is pending again.
    async with h.db.transaction() as session:
        await session.execute(update(db.OUTBOX).values(state="pending", attempts=0))
    assert await publisher.publish_due() == rows
    await publisher.close()

    reader = atproto_stack.anonymous()
    settlements = [v async for v in reader.iter_records(h.did, ids.COMPUTE_SETTLEMENT)]
    assert [str(v.uri) for v in settlements] == [settled.settlement.uri]
    assert str(settlements[0].cid) == settled.settlement.cid
    report = await h.exchange.reconcile()
    assert report.ok, report.drifts
