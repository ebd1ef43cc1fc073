"""Receipt sources wait out a grace period per batch, reading ahead meanwhile."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest

from services.exchange.receipts import after_grace, settle_from


async def _batches(arrived: list[float], n: int, fail: bool = False) -> AsyncIterator[int]:
    for i in range(n):
        arrived.append(time.monotonic())
        yield i
    if fail:
        raise ConnectionError("the feed dropped")


async def test_each_batch_waits_its_grace_and_reading_goes_on_meanwhile() -> None:
    arrived: list[float] = []
    got: list[tuple[int, float]] = []
    async for batch in after_grace(_batches(arrived, 3), 0.3):
        got.append((batch, time.monotonic()))
    assert [b for b, _ in got] == [0, 1, 2]  # in order, none lost
    for (_, yielded), came in zip(got, arrived, strict=True):
        assert yielded - came >= 0.3  # never before its grace
    assert max(arrived) < got[0][1]  # all three were read while the first waited


async def test_no_grace_passes_batches_straight_through() -> None:
    arrived: list[float] = []
    assert [b async for b in after_grace(_batches(arrived, 4), 0.0)] == [0, 1, 2, 3]


async def test_a_source_failure_surfaces_after_the_batches_before_it() -> None:
    arrived: list[float] = []
    seen = []
    with pytest.raises(ConnectionError):
        async for batch in after_grace(_batches(arrived, 2, fail=True), 0.05):
            seen.append(batch)
    assert seen == [0, 1]  # what came before the failure is still handled, in order


async def test_closing_early_stops_the_reader() -> None:
    stopped = asyncio.Event()

    async def endless() -> AsyncIterator[int]:
        try:
            i = 0
            while True:
                yield i
                i += 1
                await asyncio.sleep(0)
        finally:
            stopped.set()

    stream = after_grace(endless(), 0.01)
    assert await anext(stream) == 0
    await stream.aclose()  # type: ignore[attr-defined]
    await asyncio.wait_for(stopped.wait(), 5)


class _Quiet:
    """A source of empty batches (frames without receipts) at positions 1..n."""

    name = "quiet"

    def __init__(self, n: int) -> None:
        self.n, self.committed = n, list[int]()

    async def batches(self) -> AsyncIterator[tuple[list[Any], int | None]]:
        for position in range(1, self.n + 1):
            yield [], position

    async def commit(self, position: int) -> None:
        self.committed.append(position)


async def test_positions_are_committed_at_most_every_so_often_and_the_last_one_always() -> None:
    source = _Quiet(500)
    await settle_from(source, SimpleNamespace(db=None), 0.0)  # type: ignore[arg-type]
    assert source.committed[0] == 1 and source.committed[-1] == 500
    assert len(source.committed) < 50  # not a transaction per batch
    assert source.committed == sorted(source.committed)  # never backwards
