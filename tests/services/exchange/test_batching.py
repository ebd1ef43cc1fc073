"""Many settlements in one writer batch (group commit): each applies whole or not at all."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime

import pytest
from sqlalchemy import select, text

from cocore.storage import StorageError
from cocore.syntax import Did, parse_at_uri, record_cid
from cocore.verify import verify_settlement
from services.exchange import db
from services.exchange.exchange import Refusal
from services.exchange.policy import PolicyTerms
from services.exchange.settlement import Settled
from services.exchange.state import Batch, Keys
from services.exchange.verification import Bundle
from services.exchange.writer import Tx
from tests.services.exchange._factory import Provider, ReceiptFactory
from tests.services.exchange.conftest import Harness, audit_codes, close_harness, open_harness

SMALL = PolicyTerms(token_grant=1_000, token_floor=0, refresh_amount=0)


@pytest.fixture
async def small(db_url: str) -> AsyncIterator[Harness]:
    h = await open_harness(db_url, SMALL)
    try:
        yield h
    finally:
        await close_harness(h)


async def _in_one_batch(h: Harness, bundles: list[Bundle]) -> list[Settled | Refusal]:
    """Verification is inline (workers=0), so every command is queued before the writer runs."""
    before = h.writer.batches
    results = await asyncio.gather(*(h.exchange.settle(b) for b in bundles))
    assert h.writer.batches == before + 1, "expected a single batch"
    return results


def _bundle(f: ReceiptFactory, requester: Did, provider: Provider, price: int) -> Bundle:
    auth = f.authorization(requester)
    job = f.job(requester, auth)
    receipt = f.receipt(provider, job, price=price, tokens=(0, price))
    return Bundle(receipt.uri, receipt.record, job.record, auth.record,
                  provider.attestation.record, receipt.cid)  # fmt: skip


async def test_a_refused_settlement_does_not_sink_or_touch_its_batch(small: Harness) -> None:
    h, f = small, small.factory
    provider = f.provider()
    rich = [f.did() for _ in range(5)]
    poor = f.did()
    bundles = [f.bundle(d, provider, tokens_out=100) for d in rich]
    bundles.insert(2, f.bundle(poor, provider, tokens_out=5_000))  # costs more than the grant
    results = await _in_one_batch(h, bundles)

    refused = results.pop(2)
    assert isinstance(refused, Refusal) and refused.codes == ("insufficient-balance",)
    assert refused.retryable
    assert all(isinstance(r, Settled) and not r.duplicate for r in results), results
    for did in rich:
        assert (await h.exchange.balance(did, touch=False)).balance == 1_000 - 100
    assert (await h.exchange.balance(poor, touch=False)).balance == 1_000  # nothing charged
    fees = sum(r.fee for r in results if isinstance(r, Settled))
    assert (await h.exchange.balance(provider.did, touch=False)).balance == 1_000 + 500 - fees
    assert [r.receipt_uri for r in await h.exchange.unsettled(10)] == [str(bundles[2].receipt_uri)]
    assert await audit_codes(h) == []


async def test_a_receipt_twice_in_one_batch_settles_once(small: Harness) -> None:
    h, f = small, small.factory
    provider, requester = f.provider(), f.did()
    bundle = f.bundle(requester, provider, tokens_out=100)
    first, second = await _in_one_batch(h, [bundle, bundle])
    assert isinstance(first, Settled) and isinstance(second, Settled)
    assert (first.duplicate, second.duplicate) == (False, True)
    assert first.settlement == second.settlement
    assert (await h.exchange.balance(requester, touch=False)).balance == 1_000 - 100
    assert await audit_codes(h) == []


async def test_each_settlement_in_a_batch_captures_its_own_jobs_hold(harness: Harness) -> None:
    """Holds are found by job URI through the batch's index, among many in the same batch."""
    h, f = harness, harness.factory
    provider = f.provider()
    requesters = [f.did() for _ in range(8)]
    bundles, holds = [], {}
    for i, did in enumerate(requesters):
        bundle = _bundle(f, did, provider, price=10 + i)
        job_uri = parse_at_uri(bundle.receipt["job"]["uri"])
        admitted = await h.exchange.admit(did, 1_000, f"k{i}", job_uri, 60)
        holds[str(bundle.receipt_uri)] = admitted.hold_id
        bundles.append(bundle)
    results = await _in_one_batch(h, bundles)
    for bundle, result in zip(bundles, results, strict=True):
        assert isinstance(result, Settled), result
        assert result.hold_id == holds[str(bundle.receipt_uri)]
    for i, did in enumerate(requesters):
        view = await h.exchange.balance(did, touch=False)
        assert (view.balance, view.held) == (1_000_000 - 10 - i, 0)
    assert await audit_codes(h) == []


@dataclass
class _ReadPlanMode:
    """Reads, inside a batch's transaction, how PostgreSQL will plan the batch's statements."""

    seen: list[str] = field(default_factory=list)
    exclusive: bool = False

    def keys(self) -> Keys:
        return Keys()

    async def prepare(self, tx: Tx) -> None:
        mode = await tx.conn.execute(text("SELECT current_setting('plan_cache_mode')"))
        self.seen.append(str(mode.scalar_one()))

    def apply(self, batch: Batch) -> None:
        return None


async def test_batches_plan_every_statement_afresh_on_postgres(postgres_db_url: str) -> None:
    """A generic plan cached while the tables were small must not outlive their growth."""
    h = await open_harness(postgres_db_url)
    try:
        command = _ReadPlanMode()
        await h.writer.submit(command)
        assert command.seen == ["force_custom_plan"]
        async with h.db.session() as session:  # the setting is the batch's alone (SET LOCAL)
            mode = await session.execute(text("SELECT current_setting('plan_cache_mode')"))
            assert mode.scalar_one() == "auto"
    finally:
        await close_harness(h)


@dataclass(frozen=True)
class _DuplicateMember:
    """Writes a row the database refuses (a second member row for the same DID)."""

    did: str
    at: datetime
    exclusive: bool = False

    def keys(self) -> Keys:
        return Keys()

    async def prepare(self, tx: Tx) -> None:
        return None

    def apply(self, batch: Batch) -> None:
        row = {"did": self.did, "granted_at": self.at, "grant_amount": 1,
               "last_refresh_at": self.at, "refreshes": 0}  # fmt: skip
        batch.inserts.append((db.MEMBERS, row))


async def test_a_batch_the_database_refuses_is_retried_command_by_command(small: Harness) -> None:
    """One command's bad write fails that command alone; its batch-mates commit."""
    h, f = small, small.factory
    provider, member = f.provider(), f.did()
    assert isinstance(await h.exchange.settle(f.bundle(member, provider, tokens_out=10)), Settled)
    first, second = f.bundle(f.did(), provider, tokens_out=100), f.bundle(member, provider)
    before = h.writer.batches
    results = await asyncio.gather(
        h.exchange.settle(first), h.writer.submit(_DuplicateMember(member, h.clock())),
        h.exchange.settle(second), return_exceptions=True,
    )  # fmt: skip
    assert isinstance(results[1], StorageError), results[1]
    assert isinstance(results[0], Settled) and isinstance(results[2], Settled), results
    assert h.writer.batches == before + 2  # the failed batch, then each command on its own
    assert (await h.exchange.balance(member, touch=False)).balance == 1_000 - 10 - 100
    assert await audit_codes(h) == []


async def test_the_outbox_holds_the_signed_settlement_as_signed(small: Harness) -> None:
    """The record text comes from the verifier: its CID and signature survive the writer."""
    h, f = small, small.factory
    bundle = f.bundle(f.did(), f.provider(), tokens_out=100)
    settled = await h.exchange.settle(bundle)
    assert isinstance(settled, Settled)
    query = select(db.OUTBOX).where(db.OUTBOX.c.uri == settled.settlement.uri)
    async with h.db.session() as session:
        row = (await session.execute(query)).one()
    record = json.loads(row.record)
    assert row.cid == settled.settlement.cid == str(record_cid(record))
    key = h.exchange.key.public_key
    verdict = verify_settlement(record, bundle.receipt, bundle.authorization,
                                publisher_did=h.did, exchange_key=key)  # fmt: skip
    assert verdict.ok, verdict.codes
