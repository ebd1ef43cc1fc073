"""WatchRecords' feed: replay from the store, live from the ring, slow readers, bad cursors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.appview.events import Events
from services.appview.feed import CursorAhead, FeedEvent, FeedHub
from services.appview.items import WriteBatch
from tests.services.appview.conftest import Store
from tests.services.appview.test_store import make_chain, put


async def take(stream: AsyncIterator[FeedEvent], n: int) -> list[FeedEvent]:
    return [await asyncio.wait_for(anext(stream), 10) for _ in range(n)]


async def write(store: Store, hub: FeedHub, *items: Any) -> None:
    hub.publish(await store.writer.apply(WriteBatch(list(items))))


async def test_replay_then_live_with_a_filter(store: Store) -> None:
    hub = FeedHub(store.db, Events(), ring_size=4, page_size=2, poll_s=0.05)
    chains = [make_chain() for _ in range(3)]
    for c in chains:  # jobs and receipts interleaved: 6 events, more than the ring holds
        await write(
            store, hub, put(store, c.job, "3h0000000000a"), put(store, c.receipt, "3h0000000000a")
        )
    stream = hub.watch(0, ["dev.cocore.compute.receipt"]).__aiter__()
    replayed = await take(stream, 3)
    assert [e.uri for e in replayed] == [c.receipt.uri for c in chains]
    assert [e.seq for e in replayed] == [2, 4, 6]
    live = make_chain()
    await write(
        store, hub, put(store, live.job, "3h0000000000b"), put(store, live.receipt, "3h0000000000b")
    )
    (event,) = await take(stream, 1)
    assert (event.seq, event.action, event.uri) == (8, "create", live.receipt.uri)
    await stream.aclose()  # type: ignore[attr-defined]


async def test_a_reader_that_falls_behind_the_ring_resumes_from_the_store(store: Store) -> None:
    hub = FeedHub(store.db, Events(), ring_size=2, page_size=100, poll_s=0.05)
    stream = hub.watch(None, []).__aiter__()
    first = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.1)  # the stream is waiting at the head
    chains = [make_chain() for _ in range(5)]
    for c in chains:
        await write(store, hub, put(store, c.job, "3i0000000000a"))
    got = [await asyncio.wait_for(first, 10), *await take(stream, 4)]
    assert [e.seq for e in got] == [1, 2, 3, 4, 5]
    await stream.aclose()  # type: ignore[attr-defined]


async def test_a_cursor_from_the_future_is_refused(store: Store) -> None:
    hub = FeedHub(store.db, Events())
    with pytest.raises(CursorAhead):
        await anext(hub.watch(5, []).__aiter__())
