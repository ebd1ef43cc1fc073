"""Policy versions, patronage and disputes, each against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from cocore.lexicon import ids
from cocore.syntax import AtUri, Did, parse_at_uri
from cocore.verify import verify_settlement
from services.exchange import db
from services.exchange.errors import (
    DisputeConflict,
    InsufficientBalance,
    InvalidPeriod,
    NothingToRefund,
    PeriodNotOver,
    PeriodOverlaps,
)
from services.exchange.exchange import Refusal
from services.exchange.policy import PolicyTerms
from services.exchange.settlement import Settled
from services.exchange.verification import Bundle
from tests.services.exchange.conftest import T0, Harness, close_harness, open_harness


async def _outbox(h: Harness, collection: str) -> list[dict[str, object]]:
    query = select(db.OUTBOX).where(db.OUTBOX.c.collection == collection).order_by(db.OUTBOX.c.seq)
    async with h.db.session() as session:
        return [dict(r._mapping) for r in (await session.execute(query)).all()]


async def _settle(h: Harness, bundle: Bundle) -> Settled:
    result = await h.exchange.settle(bundle)
    assert isinstance(result, Settled), result
    return result


async def _ok(h: Harness) -> None:
    report = await h.exchange.reconcile()
    assert report.ok, report.drifts


# ---------------------------------------------------------------------------------- policy


async def test_an_unchanged_policy_publishes_nothing_and_a_change_flips_the_old_one(
    db_url: str,
) -> None:
    first = await open_harness(db_url)
    old = first.policies.current.ref
    await close_harness(first)
    same = await open_harness(db_url, key=None, start=T0 + timedelta(hours=1))
    assert same.policies.current.ref == old  # same terms: nothing new (the key is new, so
    policies = await _outbox(same, ids.COMPUTE_EXCHANGE_POLICY)  # … only a new attestation)
    assert len(policies) == 1
    await close_harness(same)

    changed = await open_harness(db_url, PolicyTerms(fee_bps=250), start=T0 + timedelta(hours=2))
    try:
        new = changed.policies.current
        assert new.ref != old and new.terms.fee_bps == 250
        rows = await _outbox(changed, ids.COMPUTE_EXCHANGE_POLICY)
        assert [r["uri"] for r in rows] == [old.uri, new.ref.uri, old.uri]
        flipped = json.loads(str(rows[2]["record"]))
        assert flipped["active"] is False and flipped["fee"]["bps"] == 500
        assert json.loads(str(rows[1]["record"]))["active"] is True
        assert [v.ref for v in changed.policies.versions] == [old, new.ref]
        attestation = changed.policies.attestation_for(new)
        assert attestation.uri.startswith(f"at://{changed.did}/{ids.COMPUTE_EXCHANGE_ATTESTATION}")

        # A receipt is settled under the policy in force when it completed.
        f, requester = changed.factory, changed.factory.did()
        f.now = T0 + timedelta(minutes=30)
        before = f.bundle(requester, f.provider(), tokens_out=1_000)
        f.now = changed.clock()
        after = f.bundle(requester, f.provider(), tokens_out=1_000)
        pinned_old, pinned_new = await _settle(changed, before), await _settle(changed, after)
        assert (pinned_old.fee, pinned_new.fee) == (50, 25)
        await _ok(changed)
    finally:
        await close_harness(changed)


# ---------------------------------------------------------------------------------- patronage


async def test_patronage_scores_shares_dust_and_idempotency(harness: Harness) -> None:
    h, f = harness, harness.factory
    a, b, c = f.did(), f.provider(), f.provider()
    await _settle(h, f.bundle(a, b, tokens_out=1_000))  # a spends 1000, b earns 950
    await _settle(h, f.bundle(b.did, c, tokens_out=500))  # b spends 500, c earns 475
    await _settle(h, f.bundle(c.did, c, tokens_out=300))  # a self-loop: counted once, no fee
    h.clock.tick(hours=2)
    start, end = T0 - timedelta(hours=1), T0 + timedelta(hours=1)
    with pytest.raises(InvalidPeriod):
        await h.exchange.distribute_patronage(end, start)
    with pytest.raises(PeriodNotOver):
        await h.exchange.distribute_patronage(start, h.clock() + timedelta(seconds=1))

    result = await h.exchange.distribute_patronage(start, end)
    assert result.scores == {a: 1_000, b.did: 1_450, c.did: 775}
    assert result.treasury_before == 75  # 50 + 25 + 0
    # floor(75 · 8000 · score / (10000 · 3225)): 18, 26, 14 — 58 of the 60, dust 2 stays
    assert result.credits == {a: 18, b.did: 26, c.did: 14}
    assert (result.total_score, result.distributed) == (3_225, 58)
    treasury = await h.exchange.balance(h.did, touch=False)
    assert treasury.balance == 75 - 58
    records = await _outbox(h, ids.ACCOUNT_TOKEN_PATRONAGE)
    assert sorted(json.loads(str(r["record"]))["tokensCredited"] for r in records) == [14, 18, 26]

    again = await h.exchange.distribute_patronage(start, end)
    assert again.already_distributed and again.distributed == 58
    with pytest.raises(PeriodOverlaps):
        await h.exchange.distribute_patronage(start + timedelta(minutes=1), end)
    assert len(await _outbox(h, ids.ACCOUNT_TOKEN_PATRONAGE)) == 3
    await _ok(h)


# ---------------------------------------------------------------------------------- disputes


async def _dispute(h: Harness, settlement: Settled, requester: Did) -> AtUri:
    opened = await h.exchange.open_dispute(
        settlement_uri=parse_at_uri(settlement.settlement.uri), raised_by=requester,
        raised_at=None, category="non-delivery", detail=None, evidence_cid=None,
    )  # fmt: skip
    with pytest.raises(DisputeConflict):  # one open dispute per settlement
        await h.exchange.open_dispute(
            settlement_uri=parse_at_uri(settlement.settlement.uri), raised_by=requester,
            raised_at=None, category="other", detail=None, evidence_cid=None,
        )  # fmt: skip
    return parse_at_uri(opened.dispute.uri)


async def test_partial_refunds_move_the_ledger_and_verify(harness: Harness) -> None:
    h, f = harness, harness.factory
    requester, provider = f.did(), f.provider()
    bundle = f.bundle(requester, provider, tokens_out=99)
    settled = await _settle(h, bundle)
    first = await h.exchange.resolve_dispute(await _dispute(h, settled, requester),
                                             "refund-partial", 50, "half")  # fmt: skip
    second = await h.exchange.resolve_dispute(await _dispute(h, settled, requester),
                                              "refund-full", 0, "the rest")  # fmt: skip
    assert first.refund is not None and second.refund is not None
    refunds = [first.refund.record, second.refund.record]
    assert [r["amountCharged"]["amount"] for r in refunds] == [50, 49]
    # fee 4 returns as 2 + 2, payout 95 as 48 + 47: exactly what was charged, in two steps
    assert [r["exchangeFee"]["amount"] for r in refunds] == [2, 2]
    assert [r["providerPayout"]["amount"] for r in refunds] == [48, 47]
    for record in refunds:
        assert record["refundOf"] == settled.settlement.to_json()
        key = h.exchange.key.public_key
        verdict = verify_settlement(
            record, bundle.receipt, bundle.authorization, publisher_did=h.did, exchange_key=key
        )
        assert verdict.ok, verdict.codes
    assert second.dispute.record["status"] == "resolved"
    assert second.dispute.record["outcome"]["refundSettlement"] == second.refund.ref.to_json()
    assert (await h.exchange.balance(requester, touch=False)).balance == 1_000_000
    assert (await h.exchange.balance(provider.did, touch=False)).balance == 1_000_000
    assert (await h.exchange.balance(h.did, touch=False)).balance == 0
    with pytest.raises(NothingToRefund):
        await h.exchange.resolve_dispute(await _dispute(h, settled, requester),
                                         "refund-full", 0, None)  # fmt: skip
    await _ok(h)


async def test_a_refund_the_provider_cannot_cover_is_refused_and_stays_open(
    harness: Harness,
) -> None:
    h, f = harness, harness.factory
    requester, provider = f.did(), f.provider()
    settled = await _settle(h, f.bundle(requester, provider, tokens_out=1_000))
    # The provider spends nearly everything it has on a job at another provider.
    big = f.bundle(provider.did, f.provider(), tokens_out=1_000_900, job_ceiling=2_000_000)
    assert isinstance(await h.exchange.settle(big), Settled)
    dispute = await _dispute(h, settled, requester)
    with pytest.raises(InsufficientBalance):
        await h.exchange.resolve_dispute(dispute, "refund-full", 0, None)
    upheld = await h.exchange.resolve_dispute(dispute, "uphold-charge", 0, "spent anyway")
    assert upheld.refund is None and upheld.dispute.record["outcome"]["verdict"] == "uphold-charge"
    await _ok(h)


async def test_forfeit_moves_the_payout_to_the_treasury(harness: Harness) -> None:
    h, f = harness, harness.factory
    requester, provider = f.did(), f.provider()
    settled = await _settle(h, f.bundle(requester, provider, tokens_out=1_000))
    await h.exchange.resolve_dispute(await _dispute(h, settled, requester), "forfeit-payout", 0,
                                     "fraudulent serving")  # fmt: skip
    assert (await h.exchange.balance(provider.did, touch=False)).balance == 1_000_000
    assert (await h.exchange.balance(h.did, touch=False)).balance == 1_000
    await _ok(h)


async def test_a_receipt_without_cover_stays_unsettled(harness: Harness) -> None:
    h, f = harness, harness.factory
    requester, provider = f.did(), f.provider()
    drain = f.bundle(requester, provider, tokens_out=999_990, job_ceiling=1_000_000)
    assert isinstance(await h.exchange.settle(drain), Settled)
    result = await h.exchange.settle(f.bundle(requester, provider, tokens_out=100))
    assert isinstance(result, Refusal) and result.retryable
    assert result.codes == ("insufficient-balance",)
    unsettled = await h.exchange.unsettled(10)
    assert [r.codes for r in unsettled] == [["insufficient-balance"]]
    await _ok(h)
