"""Admission answered from memory: before the hold commits, never beyond what the ledger allows,
and a hold lost before its batch (a crash) can only make settlement charge the balance."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from services.exchange.errors import IdempotencyConflict, InsufficientBalance
from services.exchange.exchange import Refusal
from services.exchange.holds import hold_id
from services.exchange.ledger_types import PendingStatus
from services.exchange.policy import PolicyTerms
from services.exchange.settlement import Settled
from tests.services.exchange.conftest import Harness, audit_codes, close_harness, open_harness

SMALL = PolicyTerms(token_grant=1_000, token_floor=100, refresh_amount=0)


@pytest.fixture
async def fast(db_url: str) -> AsyncIterator[Harness]:
    h = await open_harness(db_url, SMALL, fast_admit=True)
    try:
        yield h
    finally:
        await close_harness(h)


async def _crash_and_restart(h: Harness) -> Harness:
    """The process dies with the writer's queue unprocessed; a new one opens the database."""
    task, h.writer._task = h.writer._task, None  # the dead writer has nothing left to drain
    assert task is not None
    task.cancel()  # what a SIGKILL does to the queue
    await asyncio.gather(task, return_exceptions=True)
    await h.db.dispose()
    return await open_harness(h.url, SMALL, did=h.did, fast_admit=True)


async def test_a_known_member_is_answered_before_the_batch_and_reads_see_the_hold(
    fast: Harness,
) -> None:
    h, requester = fast, fast.factory.did()
    first = await h.exchange.admit(requester, 300, "a", None, 60)  # a stranger: waits (grant)
    assert first.granted and (first.balance, first.available) == (1_000, 700)
    batches = h.writer.batches
    second = await h.exchange.admit(requester, 200, "b", None, 60)
    assert h.writer.batches == batches, "answered without waiting for a batch"
    assert (second.hold_id, second.amount, second.available) == (hold_id(requester, "b"), 200, 500)
    view = await h.exchange.balance(requester, touch=False)  # read-your-writes: it committed
    assert (view.balance, view.available, view.held) == (1_000, 500, 500)
    assert h.writer.batches == batches + 1
    assert await audit_codes(h) == []


async def test_refusals_replays_and_conflicts_take_the_slow_path(fast: Harness) -> None:
    h, requester = fast, fast.factory.did()
    await h.exchange.admit(requester, 300, "a", None, 60)
    with pytest.raises(InsufficientBalance) as refused:  # 700 available, 601 + 100 floor
        await h.exchange.admit(requester, 601, "b", None, 60)
    assert refused.value.details == {
        "balance": 1_000, "available": 700, "required": 701, "short_by": 1,
    }  # fmt: skip
    fresh = await h.exchange.admit(requester, 100, "c", None, 60)  # from memory
    replay = await h.exchange.admit(requester, 100, "c", None, 60)  # its batch is still queued
    assert replay.replayed and replay.hold_id == fresh.hold_id
    with pytest.raises(IdempotencyConflict):
        await h.exchange.admit(requester, 5, "c", None, 60)
    view = await h.exchange.balance(requester, touch=False)
    assert view.held == 400  # one hold per key, however often it was asked for
    assert await audit_codes(h) == []


async def test_memory_never_admits_past_the_floor(fast: Harness) -> None:
    h, requester = fast, fast.factory.did()
    await h.exchange.admit(requester, 100, "a", None, 60)
    answers = await asyncio.gather(
        *(h.exchange.admit(requester, 100, f"k{n}", None, 60) for n in range(12)),
        return_exceptions=True,
    )
    admitted = [a for a in answers if not isinstance(a, BaseException)]
    assert len(admitted) == 8  # 900 left, floor 100: eight more holds of 100
    assert all(isinstance(a, InsufficientBalance) for a in answers if a not in admitted)
    view = await h.exchange.balance(requester, touch=False)
    assert (view.available, view.held) == (100, 900)
    assert await audit_codes(h) == []


async def test_a_hold_lost_in_a_crash_settles_against_the_balance(fast: Harness) -> None:
    h, f = fast, fast.factory
    requester, provider = f.did(), f.provider()
    await h.exchange.admit(requester, 100, "warm", None, 60)  # now a known member
    lost = await h.exchange.admit(requester, 400, "job", None, 60)  # answered from memory
    restarted = await _crash_and_restart(h)
    try:
        view = await restarted.exchange.balance(requester, touch=False)
        assert (view.balance, view.held) == (1_000, 100), "the answered hold never committed"
        bundle = f.bundle(requester, provider, tokens_out=350, job_ceiling=400,
                          hold_hint=lost.hold_id)  # fmt: skip
        result = await restarted.exchange.settle(bundle)
        assert isinstance(result, Settled) and result.hold_id is None  # charged directly
        req = await restarted.exchange.balance(requester, touch=False)
        prov = await restarted.exchange.balance(provider.did, touch=False)
        treasury = await restarted.exchange.balance(restarted.did, touch=False)
        assert (req.balance, req.held) == (1_000 - 350, 100)
        assert prov.balance + treasury.balance == 1_000 + 350  # the provider's grant + price
        assert await audit_codes(restarted) == []
        assert (await restarted.exchange.reconcile()).ok
    finally:
        await close_harness(restarted)


async def test_a_lost_hold_whose_price_the_balance_cannot_cover_moves_nothing(
    fast: Harness,
) -> None:
    h, f = fast, fast.factory
    requester, provider = f.did(), f.provider()
    big_hold = await h.exchange.admit(requester, 800, "big", None, 60)  # 200 available
    lost = await h.exchange.admit(requester, 100, "job", None, 60)  # from memory, then lost
    restarted = await _crash_and_restart(h)
    try:
        big = f.bundle(requester, provider, tokens_out=800, job_ceiling=800,
                       hold_hint=big_hold.hold_id)  # fmt: skip
        assert isinstance(await restarted.exchange.settle(big), Settled)  # 200 left
        bundle = f.bundle(requester, provider, tokens_out=300, job_ceiling=300,
                          hold_hint=lost.hold_id)  # fmt: skip
        before = await restarted.exchange.balance(requester, touch=False)
        result = await restarted.exchange.settle(bundle)
        assert isinstance(result, Refusal) and result.codes == ("insufficient-balance",)
        assert result.retryable  # it stays visible as unsettled
        after = await restarted.exchange.balance(requester, touch=False)
        assert (after.balance, after.held) == (before.balance, before.held) == (200, 0)
        assert await audit_codes(restarted) == []
        assert (await restarted.exchange.reconcile()).ok
    finally:
        await close_harness(restarted)


@pytest.fixture
async def lingering(db_url: str) -> AsyncIterator[Harness]:
    h = await open_harness(db_url, SMALL, fast_admit=True, linger_s=0.3)
    try:
        yield h
    finally:
        await close_harness(h)


async def test_a_hold_answered_from_memory_commits_after_the_linger(lingering: Harness) -> None:
    h, requester = lingering, lingering.factory.did()
    await h.exchange.admit(requester, 100, "warm", None, 60)  # a stranger: waits, no linger
    batches = h.writer.batches
    fast = await h.exchange.admit(requester, 200, "job", None, 60)
    await asyncio.sleep(0.05)
    assert h.writer.batches == batches, "the answered hold waits for company"
    for _ in range(100):  # then commits on its own, nobody asking
        if h.writer.batches > batches:
            break
        await asyncio.sleep(0.02)
    assert h.writer.batches == batches + 1
    async with h.db.session() as s:
        held = (await s.execute(text("SELECT amount FROM holds WHERE id = :i"),
                                {"i": fast.hold_id})).scalar_one()  # fmt: skip
    assert held == 200
    assert await audit_codes(h) == []


async def test_a_caller_who_waits_cuts_the_linger_short(db_url: str) -> None:
    h = await open_harness(db_url, SMALL, fast_admit=True, linger_s=30)
    try:
        requester = h.factory.did()
        await h.exchange.admit(requester, 100, "warm", None, 60)
        batches = h.writer.batches
        fast = await h.exchange.admit(requester, 200, "job", None, 60)
        view = await asyncio.wait_for(h.exchange.balance(requester, touch=False), 5)
        assert view.held == 300 and h.writer.batches == batches + 1  # read-your-writes
        second = await h.exchange.admit(requester, 50, "next", None, 60)  # deferred again
        assert fast.hold_id is not None
        released = await asyncio.wait_for(h.exchange.release(fast.hold_id), 5)
        assert released.status == PendingStatus.VOIDED
        assert h.writer.batches == batches + 2  # the waiting release took the hold along
        view = await h.exchange.balance(requester, touch=False)
        assert view.held == 150 and second.hold_id != fast.hold_id
        assert await audit_codes(h) == []
    finally:
        await close_harness(h)
