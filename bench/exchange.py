"""bench/exchange: fully verified settlements per second and bare ledger transfers per second.

    make bench-exchange        (python -m bench.exchange [--quick])

Both run through the real single writer (group commit), on SQLite (a file, WAL) and on a
durable PostgreSQL (fsync on, on disk: `bench/_pg.py`).

* transfers/s: distinct members each pay the treasury (the hot account every settlement's
  fee lands in); every transfer is its own command, idempotent on its id, so the writer
  batches them as it would under load.
* settlements/s: pre-signed receipt bundles (the provider's signing is not timed) go
  through `Exchange.settle`: for-charge verification on worker processes, the exchange's
  own checks, a signed settlement record, then the ledger chain (capture, payout, fee),
  exactly-once keys, the authorization's consumption and the outbox row, committed.

Goals on this 2-core machine, PostgreSQL: ≥ 1,000 settlements/s and ≥ 10,000 transfers/s.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench._pg import DurableCluster
from cocore.storage import sqlite_url
from cocore.syntax import Did
from services.exchange.holds import AdmitCommand
from services.exchange.ledger_types import Kind, Result, Transfer
from services.exchange.settlement import Settled
from services.exchange.state import Batch, Keys
from services.exchange.verifier_pool import Verifier
from services.exchange.writer import Tx
from tests.conftest import REPO
from tests.fixtures.postgres import PostgresServer, create_database
from tests.services.exchange.conftest import Harness, close_harness, open_harness

MIGRATIONS = REPO / "services" / "exchange" / "migrations"


@dataclass(frozen=True, slots=True)
class PayTreasury:
    """One bare transfer: a member pays the treasury (bench only)."""

    transfer_id: str
    member: str
    amount: int
    exclusive: bool = False

    def keys(self) -> Keys:
        return Keys(dids={self.member}, transfer_ids={self.transfer_id})

    async def prepare(self, tx: Tx) -> None:
        return None

    def apply(self, batch: Batch) -> Result:
        account = batch.context.account
        transfer = Transfer(self.transfer_id, account(self.member),
                            account(batch.context.treasury), self.amount, Kind.FEE)  # fmt: skip
        return batch.ledger.create_transfers([transfer])[0]


async def _members(h: Harness, count: int) -> list[Did]:
    dids = [h.factory.did() for _ in range(count)]
    await asyncio.gather(*(h.writer.submit(AdmitCommand(d, 0, "warm", None, 60)) for d in dids))
    return dids


async def transfers_per_second(url: str, count: int, members: int) -> float:
    h = await open_harness(url)
    try:
        dids = await _members(h, members)
        commands = [PayTreasury(f"bench:{i}", dids[i % members], 1) for i in range(count)]
        _freeze()
        started = time.perf_counter()
        # Futures, not one task per command: the writer is what is being measured.
        results = await asyncio.gather(*(h.writer.enqueue(c) for c in commands))
        elapsed = time.perf_counter() - started
        assert all(r is Result.OK for r in results), set(results)
        return count / elapsed
    finally:
        gc.unfreeze()
        await close_harness(h)


def _freeze() -> None:
    """What exists before the clock starts (the service, the pre-built inputs) is frozen, as
    `python -m services.exchange` freezes what start-up allocated: otherwise every full
    collection rescans thousands of inputs that, in production, arrive one by one."""
    gc.collect()
    gc.freeze()


async def settlements_per_second(url: str, count: int, workers: int) -> float:
    h = await open_harness(url)
    verifier = Verifier(h.exchange.key, workers)
    await verifier.start()
    h.exchange.verifier = verifier
    try:
        requesters = await _members(h, 200)
        providers = [h.factory.provider() for _ in range(20)]
        await _members_of(h, [str(p.did) for p in providers])
        bundles = [h.factory.bundle(requesters[i % len(requesters)], providers[i % len(providers)],
                                    tokens_in=i % 50, tokens_out=1 + i % 300)
                   for i in range(count)]  # fmt: skip
        _freeze()
        started = time.perf_counter()
        results = await asyncio.gather(*(h.exchange.settle(b) for b in bundles))
        elapsed = time.perf_counter() - started
        assert all(isinstance(r, Settled) and not r.duplicate for r in results)
        return count / elapsed
    finally:
        gc.unfreeze()
        await verifier.stop()
        await close_harness(h)


async def _members_of(h: Harness, dids: list[str]) -> None:
    await asyncio.gather(*(h.writer.submit(AdmitCommand(d, 0, "warm", None, 60)) for d in dids))


async def run(quick: bool, workers: int) -> None:
    transfers, settlements = (5_000, 1_000) if quick else (100_000, 10_000)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = sqlite_url(Path(tmp) / "bench.db")
        rows.append(("SQLite (WAL, synchronous=NORMAL)",
                     await transfers_per_second(sqlite, transfers, 1_000),
                     await settlements_per_second(sqlite_url(Path(tmp) / "s.db"), settlements,
                                                  workers)))  # fmt: skip
    cluster = DurableCluster.start()
    try:
        server = PostgresServer(cluster.admin_url, "15")
        pg_t = await transfers_per_second(await create_database(server, "bench"), transfers, 1_000)
        pg_s = await settlements_per_second(await create_database(server, "bench"), settlements,
                                            workers)  # fmt: skip
        rows.append(("PostgreSQL (fsync on, durable)", pg_t, pg_s))
    finally:
        cluster.stop()
    print(f"cpus={os.cpu_count()} python={platform.python_version()} verify workers={workers} "
          f"load={os.getloadavg()[0]:.2f}")  # fmt: skip
    print(f"| {'backend':<34} | {'transfers/s':>12} | {'settlements/s':>14} |")
    print(f"|{'-' * 36}|{'-' * 14}|{'-' * 16}|")
    for name, t, s in rows:
        print(f"| {name:<34} | {t:>12,.0f} | {s:>14,.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts (a smoke run)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="verification worker processes")  # fmt: skip
    args = parser.parse_args()
    asyncio.run(run(args.quick, args.workers))


if __name__ == "__main__":
    main()
