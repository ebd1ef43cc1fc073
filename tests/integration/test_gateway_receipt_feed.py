"""The settler's receipts from a real AppView's feed (fed by the real PDS): a waiter gets its
receipt CID-checked, a receipt that came before its waiter is still found, and a receipt whose
CID differs from the completion's is None at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cocore.storage import sqlite_url
from cocore.syntax import parse_at_uri, parse_did, record_cid
from services.gateway.receipt_feed import ReceiptFeed
from tests.fixtures.atproto import Account, AtprotoStack
from tests.services.appview import harness
from tests.services.exchange._factory import Provider, ReceiptFactory

pytestmark = pytest.mark.pds
EXCHANGE = "did:plc:exchangeexchangeexchange"


@pytest.fixture
async def feed(atproto_stack: AtprotoStack, tmp_path: Path) -> AsyncIterator[ReceiptFeed]:
    async with harness.running(atproto_stack, sqlite_url(tmp_path / "appview.db")) as appview:
        feed = ReceiptFeed(f"127.0.0.1:{appview.grpc.port}")
        task = asyncio.create_task(feed.run())
        try:
            yield feed
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def publish(account: Account, provider: Provider, factory: ReceiptFactory) -> tuple[str, str]:
    """A valid receipt in the provider's repo; its (URI, CID)."""
    bundle = factory.bundle(factory.did(), provider, tokens_in=3, tokens_out=4)
    uri = bundle.receipt_uri
    result = await account.client.put_record(uri.collection, uri.rkey, bundle.receipt)
    assert str(result.cid) == str(record_cid(bundle.receipt))
    return str(uri), str(result.cid)


async def live(feed: ReceiptFeed, account: Account, provider: Provider, f: ReceiptFactory) -> None:
    """Until the feed carries a fresh receipt (its stream starts at 'from now on')."""
    for _ in range(60):
        uri, cid = await publish(account, provider, f)
        if await feed.wait(uri, cid, 1.0) is not None:
            return
    raise AssertionError("the feed never carried a receipt")


async def test_receipts_come_from_the_feed_checked_by_cid(
    feed: ReceiptFeed, atproto_stack: AtprotoStack
) -> None:
    account = await atproto_stack.create_account()
    factory = ReceiptFactory(parse_did(EXCHANGE), datetime.now(UTC))
    provider = factory.provider(did=account.client.did)
    await live(feed, account, provider, factory)

    # a waiter first, then the receipt
    waiting = asyncio.create_task(feed.wait(*await _next_uri(account, provider, factory), 30))
    got = await waiting
    assert (
        got is not None and got.record["job"] and parse_at_uri(got.uri).repo == account.client.did
    )

    # the receipt first (the settler was still waiting for the job's records), then the waiter
    uri, cid = await publish(account, provider, factory)
    await asyncio.sleep(1.0)  # indexed and past the feed before anyone asks
    early = await asyncio.wait_for(feed.wait(uri, cid, 30), 5)
    assert early is not None and (early.uri, early.cid) == (uri, cid)

    # a receipt that is not the version the completion named: None, without waiting it out
    uri, _ = await publish(account, provider, factory)
    wrong = "bafyreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    assert await asyncio.wait_for(feed.wait(uri, wrong, 60), 20) is None


async def _next_uri(account: Account, p: Provider, f: ReceiptFactory) -> tuple[str, str]:
    """Publish a receipt a moment after this returns its (URI, CID) to a waiter."""
    bundle = f.bundle(f.did(), p, tokens_in=3, tokens_out=4)
    uri = bundle.receipt_uri

    async def later() -> None:
        await asyncio.sleep(0.2)
        await account.client.put_record(uri.collection, uri.rkey, bundle.receipt)

    asyncio.get_running_loop().create_task(later())
    return str(uri), str(record_cid(bundle.receipt))
