"""The settler's receipt watch against the real PDS: waiters on one provider repo get their own
records (CID-checked), a receipt older than the page is fetched by name, and a receipt that
never appears, or differs, is None."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from cocore.atproto import IdentityResolver
from cocore.lexicon import ids
from cocore.syntax import TidClock, parse_did, parse_record_key
from services.gateway.receipts import ReceiptWatch
from services.gateway.records import Placed, place
from services.gateway.repos import RepoReader
from tests.fixtures.atproto import Account, AtprotoStack

pytestmark = pytest.mark.pds


@pytest.fixture
async def watch(atproto_stack: AtprotoStack) -> AsyncIterator[ReceiptWatch]:
    resolver = IdentityResolver(atproto_stack.plc_url, allow_insecure_loopback=True)
    repos = RepoReader(resolver)
    try:
        yield ReceiptWatch(repos, first_delay_s=0.01, max_delay_s=0.1)
    finally:
        await repos.aclose()
        await resolver.aclose()


def receipts(provider: Account, count: int) -> list[Placed]:
    tids, did = TidClock(), parse_did(str(provider.client.did))
    return [place(did, ids.COMPUTE_RECEIPT, str(tids.next()), {"n": n}) for n in range(count)]


async def publish(provider: Account, records: list[Placed], delay_s: float = 0.0) -> None:
    await asyncio.sleep(delay_s)
    for p in records:
        await provider.client.create_record(ids.COMPUTE_RECEIPT, p.record, parse_record_key(p.rkey))


async def test_waiters_on_one_repo_get_their_own_records(
    watch: ReceiptWatch, atproto_stack: AtprotoStack
) -> None:
    provider = await atproto_stack.create_account()
    placed = receipts(provider, 3)
    *found, _ = await asyncio.gather(
        *(watch.wait(p.uri, p.cid, 20) for p in placed), publish(provider, placed, 0.2)
    )
    got = [(f.uri, f.cid, f.record) if f is not None else None for f in found]
    assert got == [(p.uri, p.cid, p.record) for p in placed]


async def test_a_receipt_older_than_the_page_is_fetched_by_name(
    watch: ReceiptWatch, atproto_stack: AtprotoStack
) -> None:
    provider = await atproto_stack.create_account()
    placed = receipts(provider, 12)  # one waiter reads a page of 10: the oldest is not on it
    await publish(provider, placed)
    oldest = await watch.wait(placed[0].uri, placed[0].cid, 20)
    assert oldest is not None and oldest.record == placed[0].record


async def test_a_different_or_missing_receipt_is_none(
    watch: ReceiptWatch, atproto_stack: AtprotoStack
) -> None:
    provider = await atproto_stack.create_account()
    real, never = receipts(provider, 2)
    await publish(provider, [real])
    assert await watch.wait(real.uri, never.cid, 20) is None  # not the bytes we were promised
    assert await watch.wait(never.uri, never.cid, 0.3) is None  # never published
