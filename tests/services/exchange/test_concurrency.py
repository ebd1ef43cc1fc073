"""PostgreSQL under concurrency: two exchange processes' writers on one database, many tasks
settling the same and different receipts at once, and admissions racing for one balance."""

from __future__ import annotations

import asyncio
import random

from services.exchange.errors import InsufficientBalance
from services.exchange.holds import Admitted
from services.exchange.settlement import Settled
from tests.services.exchange.conftest import Harness, close_harness, open_harness


async def test_each_receipt_settles_exactly_once_across_two_writers(postgres_db_url: str) -> None:
    one = await open_harness(postgres_db_url, clock_id=1)
    two = await open_harness(postgres_db_url, key=one.exchange.key, clock_id=2)
    try:
        f = one.factory
        requesters = [f.did() for _ in range(10)]
        providers = [f.provider() for _ in range(5)]
        bundles = [f.bundle(requesters[i % 10], providers[i % 5], tokens_out=1 + i)
                   for i in range(120)]  # fmt: skip
        # every receipt up to three times, through one writer or both, shuffled, in waves
        routes = [(one,), (two,), (one, two, two), (two, one, one)]
        deliveries = [(h, b) for i, b in enumerate(bundles) for h in routes[i % 4]]
        random.Random(3).shuffle(deliveries)
        results: list[object] = []
        for start in range(0, len(deliveries), 60):
            wave = deliveries[start : start + 60]
            results += await asyncio.gather(*(h.exchange.settle(b) for h, b in wave))
        assert one.writer.batches > 1 and two.writer.batches > 1
        assert all(isinstance(r, Settled) for r in results)
        firsts = [r for r in results if isinstance(r, Settled) and not r.duplicate]
        assert len(firsts) == len(bundles)
        by_receipt: dict[str, set[str]] = {}
        for (_, bundle), result in zip(deliveries, results, strict=True):
            assert isinstance(result, Settled)
            by_receipt.setdefault(str(bundle.receipt_uri), set()).add(result.settlement.uri)
        assert all(len(uris) == 1 for uris in by_receipt.values())  # one settlement each

        charged = sum(r.amount for r in firsts)
        total = 0
        for did in [*requesters, *(p.did for p in providers), one.did]:
            total += (await one.exchange.balance(did, touch=False)).balance
        assert total == 15 * 1_000_000  # only grants minted money: 10 + 5 members
        treasury = await one.exchange.balance(one.did, touch=False)
        assert treasury.balance == sum(r.fee for r in firsts) and charged > 0
        report = await two.exchange.reconcile()
        assert report.ok, report.drifts
    finally:
        await close_harness(two)
        await close_harness(one)


async def test_racing_admissions_never_overdraw(postgres_db_url: str) -> None:
    one = await open_harness(postgres_db_url, clock_id=1)
    two = await open_harness(postgres_db_url, key=one.exchange.key, clock_id=2)
    try:
        requester = one.factory.did()

        # 1,000,000 granted, floor 100,000: exactly nine holds of 100,000 fit.
        async def admit(h: Harness, n: int) -> Admitted | None:
            try:
                return await h.exchange.admit(requester, 100_000, f"k{n}", None, 600)
            except InsufficientBalance:
                return None

        results = await asyncio.gather(*(admit((one, two)[n % 2], n) for n in range(30)))
        assert sum(r is not None for r in results) == 9
        view = await one.exchange.balance(requester, touch=False)
        assert (view.balance, view.held, view.available) == (1_000_000, 900_000, 100_000)
        report = await one.exchange.reconcile()
        assert report.ok, report.drifts
    finally:
        await close_harness(two)
        await close_harness(one)
