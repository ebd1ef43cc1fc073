"""Admission, settlement and release end to end through the writer, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from cocore.syntax import record_cid
from services.exchange.errors import IdempotencyConflict, InsufficientBalance
from services.exchange.exchange import Refusal
from services.exchange.ledger_types import PendingStatus
from services.exchange.receipts import ReceiptEvent, settle_from
from services.exchange.settlement import Settled
from tests.services.exchange._factory import tampered
from tests.services.exchange.conftest import Harness, audit_codes


async def test_admit_settle_release(harness: Harness) -> None:
    h, f = harness, harness.factory
    requester, provider = f.did(), f.provider()
    admitted = await h.exchange.admit(requester, 100_000, "job-1", None, 60)
    assert admitted.granted and admitted.balance == 1_000_000
    assert admitted.hold_id is not None
    view = await h.exchange.balance(requester, touch=False)
    assert (view.balance, view.available, view.held) == (1_000_000, 900_000, 100_000)

    bundle = f.bundle(requester, provider, tokens_in=40, tokens_out=59, hold_hint=admitted.hold_id)
    result = await h.exchange.settle(bundle)
    assert isinstance(result, Settled), result
    assert (result.amount, result.fee, result.payout) == (99, 4, 95)  # 99 at 500 bps → 4
    assert result.hold_id == admitted.hold_id and not result.duplicate

    again = await h.exchange.settle(bundle)
    assert isinstance(again, Settled) and again.duplicate and again.settlement == result.settlement

    req = await h.exchange.balance(requester, touch=False)
    prov = await h.exchange.balance(provider.did, touch=False)
    treasury = await h.exchange.balance(h.did, touch=False)
    assert (req.balance, req.held) == (1_000_000 - 99, 0)
    assert prov.balance == 1_000_000 + 95  # first touch granted the provider too
    assert (treasury.balance, treasury.member) == (4, False)  # the treasury is never granted
    assert await audit_codes(h) == []


async def test_admission_refused_below_the_floor(harness: Harness) -> None:
    h = harness
    requester = h.factory.did()
    await h.exchange.admit(requester, 800_000, "a", None, 60)
    with pytest.raises(InsufficientBalance) as refused:
        await h.exchange.admit(requester, 100_001, "b", None, 60)
    assert refused.value.details == {
        "balance": 1_000_000, "available": 200_000, "required": 200_001, "short_by": 1,
    }  # fmt: skip
    replay = await h.exchange.admit(requester, 800_000, "a", None, 60)
    assert replay.replayed
    with pytest.raises(IdempotencyConflict):
        await h.exchange.admit(requester, 5, "a", None, 60)
    state = await h.exchange.release(replay.hold_id or "")
    assert state.status is PendingStatus.VOIDED and state.changed
    assert (await h.exchange.release(replay.hold_id or "")).changed is False
    assert await audit_codes(h) == []


async def test_tampered_receipt_is_refused_and_moves_nothing(harness: Harness) -> None:
    h, f = harness, harness.factory
    requester, provider = f.did(), f.provider()
    bundle = f.bundle(requester, provider)
    bad = tampered(bundle, price={"amount": 5_000, "currency": "CC"})
    result = await h.exchange.settle(bad)
    assert isinstance(result, Refusal)
    assert "signature-invalid" in result.codes
    assert (await h.exchange.balance(requester, touch=False)).member is False
    assert await audit_codes(h) == []


async def test_authorizations_are_consumed_per_requester_and_nonce(harness: Harness) -> None:
    """Nonces are public: another DID reusing yours must not block your provider's pay."""
    h, f = harness, harness.factory
    alice, mallory, provider = f.did(), f.did(), f.provider()
    nonce = "ab" * 16
    stolen = f.bundle(mallory, provider, auth=f.authorization(mallory, nonce=nonce))
    mine = f.bundle(alice, provider, auth=f.authorization(alice, nonce=nonce))
    assert isinstance(await h.exchange.settle(stolen), Settled)
    assert isinstance(await h.exchange.settle(mine), Settled)
    # … while a second receipt on alice's single-use authorization is a replay.
    again = f.bundle(alice, provider, auth=f.authorization(alice, nonce=nonce))
    refused = await h.exchange.settle(again)
    assert isinstance(refused, Refusal) and refused.codes == ("authorization-already-consumed",)


async def test_a_session_authorization_stops_at_its_budget(harness: Harness) -> None:
    h, f = harness, harness.factory
    requester, provider = f.did(), f.provider()
    session = f.authorization(requester, scope="session", budget=120, ceiling=100)
    first = f.bundle(requester, provider, tokens_out=50, auth=session)
    second = f.bundle(requester, provider, tokens_out=50, auth=session)
    third = f.bundle(requester, provider, tokens_out=50, auth=session)
    assert isinstance(await h.exchange.settle(first), Settled)
    assert isinstance(await h.exchange.settle(second), Settled)
    refused = await h.exchange.settle(third)
    assert isinstance(refused, Refusal) and refused.codes == ("session-budget-exceeded",)


async def test_pro_bono_moves_nothing_and_consumes_nothing(harness: Harness) -> None:
    h, f = harness, harness.factory
    requester, provider = f.did(), f.provider()
    auth = f.authorization(requester)
    free = await h.exchange.settle(f.bundle(requester, provider, pro_bono=True, auth=auth))
    assert isinstance(free, Settled) and (free.amount, free.fee, free.payout) == (0, 0, 0)
    paid = await h.exchange.settle(f.bundle(requester, provider, tokens_out=100, auth=auth))
    assert isinstance(paid, Settled) and paid.amount == 100
    assert await audit_codes(h) == []


async def test_a_receipt_priced_off_the_rate_is_refused(harness: Harness) -> None:
    h, f = harness, harness.factory
    bundle = f.bundle(f.did(), f.provider(), tokens_out=100, price=102)
    refused = await h.exchange.settle(bundle)
    assert isinstance(refused, Refusal) and refused.codes == ("price-rate-mismatch",)


class _Source:
    """One batch of receipts, as the AppView feed or a firehose would yield it."""

    name = "test"

    def __init__(self, batch: list[ReceiptEvent]) -> None:
        self.batch, self.committed = batch, list[int]()

    async def batches(self) -> AsyncIterator[tuple[list[ReceiptEvent], int | None]]:
        yield self.batch, 7

    async def commit(self, position: int) -> None:
        self.committed.append(position)


class _Fetcher:
    """The PDSes' records by URI, noting what was asked for."""

    def __init__(self, records: dict[str, dict[str, Any]]) -> None:
        self.records, self.asked = records, list[str]()

    async def fetch(self, ref: Any, nsid: str) -> dict[str, Any]:
        self.asked.append(ref["uri"])
        return self.records[ref["uri"]]


async def test_a_source_skips_what_the_fast_path_settled_without_fetching_it(
    harness: Harness,
) -> None:
    h, f = harness, harness.factory
    requester, provider = f.did(), f.provider()
    holds = [await h.exchange.admit(requester, 10_000, f"job-{i}", None, 60) for i in range(2)]
    fast, late = (f.bundle(requester, provider, tokens_out=10 * (i + 1), hold_hint=a.hold_id)
                  for i, a in enumerate(holds))  # fmt: skip
    assert isinstance(await h.exchange.settle(fast), Settled)
    refs = (late.receipt["job"], late.receipt["attestation"], late.job["paymentAuthorization"])
    records = (late.job, late.attestation, late.authorization)
    fetcher = _Fetcher({r["uri"]: rec for r, rec in zip(refs, records, strict=True)})
    h.exchange.fetcher = fetcher  # type: ignore[assignment]
    source = _Source([ReceiptEvent(b.receipt_uri, str(record_cid(b.receipt)), b.receipt)
                      for b in (fast, late)])  # fmt: skip

    await settle_from(source, h.exchange)

    assert fetcher.asked == [r["uri"] for r in refs]  # the late one only
    assert source.committed == [7]
    again = await h.exchange.settle(late)
    assert isinstance(again, Settled) and again.duplicate  # the source settled it
    assert await audit_codes(h) == []
