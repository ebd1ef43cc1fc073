"""Fixtures: a real exchange (writer, verifier, policy) on a fresh SQLite or PostgreSQL database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from cocore.crypto import SigningKey, jwk_fingerprint
from cocore.storage import Database, upgrade
from cocore.syntax import Did, TidClock, parse_did
from services.exchange.admission import AdmissionBook
from services.exchange.exchange import Exchange
from services.exchange.ledger_sql import SqlLedgerStore
from services.exchange.policies import Attesting, Policies, publish_policy
from services.exchange.policy import PolicyTerms
from services.exchange.verifier_pool import Verifier
from services.exchange.writer import Writer
from tests.conftest import REPO
from tests.services.exchange._factory import ReceiptFactory

MIGRATIONS = REPO / "services" / "exchange" / "migrations"
EXCHANGE_DID = parse_did("did:plc:exchangeexchangeexchange")
T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def tick(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def micros(self) -> int:
        return int(self.now.timestamp() * 1_000_000)


@dataclass
class Harness:
    exchange: Exchange
    db: Database
    clock: FakeClock
    factory: ReceiptFactory
    policies: Policies
    writer: Writer
    url: str

    @property
    def did(self) -> Did:
        return self.policies.exchange


async def open_harness(
    url: str,
    terms: PolicyTerms | None = None,
    *,
    start: datetime = T0,
    did: Did = EXCHANGE_DID,
    key: SigningKey | None = None,
    clock_id: int = 0,
    fast_admit: bool = False,
    linger_s: float = 0.0,
) -> Harness:
    """A fresh exchange over `url` (migrated); several harnesses may share one database.
    `fast_admit` answers a known member's Admit from memory, as the service does; `linger_s`
    lets the hold it commits later wait that long for company."""
    await upgrade(url, MIGRATIONS)
    database = Database.from_url(url)
    clock = FakeClock(start)
    tids = TidClock(clock.micros, clock_id=clock_id)  # replicas differ, as in production
    key = key or SigningKey.generate()
    attesting = Attesting("cocore-exchange@test", jwk_fingerprint(key.public_key.to_jwk()))
    policies = await publish_policy(
        database, exchange=did, terms=terms or PolicyTerms(), attesting=attesting,
        now=clock(), tid=lambda: str(tids.next()),
    )  # fmt: skip
    book = AdmissionBook(ttl_s=60) if fast_admit else None
    writer = Writer(database, policies.context, clock, tids=tids,
                    on_commit=book.committed if book else None, linger_s=linger_s)  # fmt: skip
    writer.start()
    verifier = Verifier(key, 0)
    exchange = Exchange(database=database, writer=writer, verifier=verifier, policies=policies,
                        key=key, clock=clock, admissions=book)  # fmt: skip
    factory = ReceiptFactory(did, clock())
    return Harness(exchange, database, clock, factory, policies, writer, url)


async def close_harness(h: Harness) -> None:
    await h.writer.stop()
    await h.db.dispose()


@pytest.fixture
async def harness(db_url: str) -> AsyncIterator[Harness]:
    h = await open_harness(db_url)
    try:
        yield h
    finally:
        await close_harness(h)


async def audit_codes(h: Harness) -> list[str]:
    """The ledger audit's finding codes (empty: the books balance)."""
    async with h.db.session() as session:
        conn = await session.connection()
        return [d.code for d in await SqlLedgerStore(conn).audit("CC")]
