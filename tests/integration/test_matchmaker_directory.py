"""The provider directory on SQLite and PostgreSQL: claims, fenced refreshes, leases, peers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from cocore.storage import Database, upgrade
from services.matchmaker.directory import ProviderDirectory
from services.matchmaker.server import MIGRATIONS
from services.matchmaker.snapshot import from_snapshot, to_snapshot
from tests.services.matchmaker.poolkit import machine

KEY = ("did:plc:aaaa", "m1")


class Clock:
    now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    await upgrade(db_url, MIGRATIONS)
    database = Database.from_url(db_url)
    yield database
    await database.dispose()


def replica(db: Database, name: str, clock: Clock) -> ProviderDirectory:
    directory = ProviderDirectory(db, name, lease_s=10, clock=clock)
    directory.address = f"{name}.local:1"
    return directory


async def test_claims_refreshes_and_leases(db: Database) -> None:
    clock = Clock()
    a, b = replica(db, "a", clock), replica(db, "b", clock)
    snap = to_snapshot(machine(*KEY))
    await a.claim({KEY: snap})
    assert await a.renew() == {KEY}
    assert await b.owner_of(KEY) == "a.local:1" and await a.owner_of(KEY) is None
    (row,) = await b.others()
    assert row.key == KEY and row.snapshot == snap and row.replica_id == "a"
    # The machine reconnects to b: the newest stream wins, and a can no longer refresh it.
    await b.claim({KEY: snap})
    await a.refresh({KEY: {**snap, "free": 0}})
    assert await a.renew() == set()
    (row,) = await a.others()
    assert row.replica_id == "b" and row.snapshot["free"] == snap["free"]
    clock.now += 11  # b stopped renewing: its lease lapses
    assert await a.others() == [] and await a.owner_of(KEY) is None
    await b.withdraw({KEY})
    assert await b.renew() == set()


async def test_withdraw_all_touches_only_its_own_rows(db: Database) -> None:
    clock = Clock()
    a, b = replica(db, "a", clock), replica(db, "b", clock)
    await a.claim({KEY: to_snapshot(machine(*KEY))})
    await b.claim({("did:plc:bbbb", "m1"): to_snapshot(machine("did:plc:bbbb"))})
    await a.withdraw_all()
    assert [r.replica_id for r in await a.others()] == ["b"]
    assert await b.others() == []


def test_snapshots_round_trip() -> None:
    entry = machine("did:plc:aaaa", country="DE", tools=True)
    entry.in_use = 1
    back = from_snapshot("did:plc:aaaa", "m1", "r2", "x:1", to_snapshot(entry))
    assert back.remote and back.free == entry.free and back.models == entry.models
    assert back.identity == entry.identity and back.country == "DE"
