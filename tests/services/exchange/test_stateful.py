"""A Hypothesis state machine over the whole exchange, on SQLite and PostgreSQL.

Random sequences of admit, receipt creation, settlement in any order, duplicate delivery,
release, expiry, refresh, patronage and refunds run against the real exchange (writer,
verifier, database) and against an independent model of what every balance must be. After
every step the ledger's own invariants (`reconcile`) must hold and every balance must equal
the model's.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from cocore.crypto import SigningKey
from cocore.storage import sqlite_url
from cocore.syntax import AtUri, Did, parse_at_uri, parse_did
from services.exchange.errors import InsufficientBalance
from services.exchange.exchange import Refusal
from services.exchange.formulas import patronage_shares
from services.exchange.holds import ExpireCommand
from services.exchange.policy import PolicyTerms
from services.exchange.settlement import Settled
from services.exchange.verification import Bundle
from tests.fixtures.postgres import PostgresServer, create_database, drop_database
from tests.services.exchange.conftest import Harness, close_harness, open_harness

# Small numbers so that balances run out, floors bite and holds matter within a few steps.
TERMS = PolicyTerms(
    token_grant=1_000, token_floor=100, refresh_amount=70, refresh_cadence_minutes=60,
    fee_bps=500, fee_min_minor=1,
)  # fmt: skip
DIDS = 4


@dataclass
class Hold:
    id: str
    did: str
    amount: int
    expires_at: datetime
    status: str = "pending"


@dataclass
class Model:
    """What the books must say, kept with plain arithmetic beside the exchange."""

    treasury: str
    balance: dict[str, int] = field(default_factory=dict)
    last_refresh: dict[str, datetime] = field(default_factory=dict)
    holds: dict[str, Hold] = field(default_factory=dict)  # by job URI
    settled: dict[str, dict[str, Any]] = field(default_factory=dict)  # by receipt URI
    minted: int = 0

    def held(self, did: str) -> int:
        return sum(h.amount for h in self.holds.values() if h.did == did and h.status == "pending")

    def available(self, did: str) -> int:
        return self.balance.get(did, 0) - self.held(did)

    def touch(self, did: str, now: datetime) -> None:
        if did == self.treasury:
            self.balance.setdefault(did, 0)
        elif did not in self.last_refresh:
            self.balance[did] = self.balance.get(did, 0) + TERMS.token_grant
            self.minted += TERMS.token_grant
            self.last_refresh[did] = now
        elif now - self.last_refresh[did] >= timedelta(minutes=TERMS.refresh_cadence_minutes):
            self.balance[did] += TERMS.refresh_amount
            self.minted += TERMS.refresh_amount
            self.last_refresh[did] = now

    def expire(self, now: datetime) -> None:
        for hold in self.holds.values():
            if hold.status == "pending" and now >= hold.expires_at:
                hold.status = "expired"


@dataclass
class Pending:
    bundle: Bundle
    job_uri: str
    price: int
    completed: datetime


class ExchangeMachine(RuleBasedStateMachine):
    url_factory: Any = None  # set per backend: () -> (loop) -> url
    fast_admit = False  # True: known members' admissions are answered from memory

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.h: Harness = self.run(self._open())
        self.model = Model(str(self.h.did))
        self.dids = [str(self.h.factory.did()) for _ in range(DIDS)]
        self.pool: list[Pending] = []
        self.keys = [SigningKey.generate() for _ in range(DIDS)]
        self.delivered: list[Pending] = []
        self.period_start = self.h.clock() - timedelta(days=1)

    async def _open(self) -> Harness:
        return await open_harness(await type(self).url_factory(), TERMS,
                                  fast_admit=type(self).fast_admit)  # fmt: skip

    def run(self, awaitable: Any) -> Any:
        return self.loop.run_until_complete(awaitable)

    def teardown(self) -> None:
        self.run(close_harness(self.h))
        self.loop.close()

    @property
    def now(self) -> datetime:
        return self.h.clock()

    # ------------------------------------------------------------------ rules

    @initialize()
    def start(self) -> None:
        self.h.factory.now = self.now

    @rule(
        r=st.integers(0, DIDS - 1), p=st.integers(0, DIDS - 1), tokens_out=st.integers(0, 900),
        admit=st.booleans(), ceiling=st.integers(0, 1_000),
    )  # fmt: skip
    def create_receipt(self, r: int, p: int, tokens_out: int, admit: bool, ceiling: int) -> None:
        f = self.h.factory
        f.now = self.now
        provider = f.provider(did=_parse(self.dids[p]), key=self.keys[p])  # a fresh attestation
        bundle = f.bundle(_parse(self.dids[r]), provider, tokens_in=0, tokens_out=tokens_out,
                          job_ceiling=1_000)  # fmt: skip
        job_uri = bundle.receipt["job"]["uri"]
        if admit:
            self._admit(self.dids[r], ceiling, job_uri)
        self.pool.append(Pending(bundle, job_uri, tokens_out, self.now))

    def _admit(self, did: str, ceiling: int, job_uri: str) -> None:
        m = self.model
        m.touch(did, self.now)
        ok = m.available(did) - ceiling >= TERMS.token_floor
        batches = self.h.writer.batches
        try:
            admitted = self.run(
                self.h.exchange.admit(_parse(did), ceiling, job_uri, _uri(job_uri), 600)
            )
        except InsufficientBalance:
            assert not ok, "admission refused although the model has room"
            return
        assert ok, "admission granted although the model is short"
        event("admitted from memory" if self.h.writer.batches == batches else "admitted")
        if admitted.hold_id:
            expires = self.now + timedelta(seconds=600)
            m.holds[job_uri] = Hold(admitted.hold_id, did, ceiling, expires)

    @precondition(lambda self: self.pool)
    @rule(index=st.integers(0, 1_000))
    def deliver(self, index: int) -> None:
        """Settle one of the waiting receipts: in any order, whenever."""
        pending = self.pool.pop(index % len(self.pool))
        self._settle(pending)
        self.delivered.append(pending)

    @precondition(lambda self: self.delivered)
    @rule(index=st.integers(0, 1_000))
    def redeliver(self, index: int) -> None:
        """Deliver a receipt again: a duplicate changes nothing; a refused one may settle now."""
        pending = self.delivered[index % len(self.delivered)]
        uri = str(pending.bundle.receipt_uri)
        if uri not in self.model.settled:
            self._settle(pending)
            return
        before = dict(self.model.balance)
        result = self.run(self.h.exchange.settle(pending.bundle))
        assert isinstance(result, Settled) and result.duplicate
        assert result.settlement.uri == self.model.settled[uri]["uri"]
        assert self.model.balance == before

    def _settle(self, pending: Pending) -> None:
        m, b = self.model, pending.bundle
        requester, provider = str(b.receipt["requester"]), str(b.receipt_uri.repo)
        m.touch(requester, self.now)
        m.touch(provider, self.now)
        hold = m.holds.get(pending.job_uri)
        if hold and hold.status == "pending" and self.now >= hold.expires_at:
            hold.status = "expired"  # the settlement voids it first
        live = hold is not None and hold.status == "pending" and hold.amount >= pending.price
        affordable = live or m.available(requester) >= pending.price
        result = self.run(self.h.exchange.settle(b))
        event("settled" if isinstance(result, Settled) else "refused")
        if pending.price > 0 and not affordable:
            assert isinstance(result, Refusal) and result.codes == ("insufficient-balance",)
            return
        assert isinstance(result, Settled) and not result.duplicate, result
        fee = 0 if requester == provider else min(max(pending.price * 5 // 100, 1), pending.price)
        assert (result.amount, result.fee) == (pending.price, fee)
        if hold is not None and hold.status == "pending":
            hold.status = "posted" if live and pending.price > 0 else "voided"
        m.balance[requester] -= pending.price
        m.balance[provider] += pending.price - fee
        m.balance[m.treasury] = m.balance.get(m.treasury, 0) + fee
        m.settled[str(b.receipt_uri)] = {
            "uri": result.settlement.uri, "requester": requester, "provider": provider,
            "amount": pending.price, "fee": fee, "completed": pending.completed,
            "refunded": False, "dispute": None,
        }  # fmt: skip

    @precondition(lambda self: any(h.status == "pending" for h in self.model.holds.values()))
    @rule(index=st.integers(0, 1_000))
    def release(self, index: int) -> None:
        pending = [h for h in self.model.holds.values() if h.status == "pending"]
        hold = pending[index % len(pending)]
        state = self.run(self.h.exchange.release(hold.id))
        hold.status = "expired" if self.now >= hold.expires_at else "voided"
        assert str(state.status) == hold.status

    @rule(seconds=st.sampled_from([1, 300, 599, 600, 3_600, 7_200]))
    def tick_and_expire(self, seconds: int) -> None:
        self.h.clock.tick(seconds=seconds)
        self.run(self.h.writer.submit(ExpireCommand()))
        self.model.expire(self.now)

    @rule(index=st.integers(0, DIDS - 1))
    def read_balance(self, index: int) -> None:
        """An owner's read: a member's due refresh is applied, a stranger gets nothing."""
        did = self.dids[index]
        if did in self.model.last_refresh:
            self.model.touch(did, self.now)
        view = self.run(self.h.exchange.balance(_parse(did), touch=True))
        assert view.member == (did in self.model.last_refresh)

    @rule()
    def patronage(self) -> None:
        m, start, end = self.model, self.period_start, self.now
        if end <= start:
            return
        scores: dict[str, int] = {}
        for s in m.settled.values():
            if start <= s["completed"] < end and not s["refunded"]:
                parties = {s["requester"]: s["amount"], s["provider"]: s["amount"] - s["fee"]}
                if s["requester"] == s["provider"]:
                    parties = {s["requester"]: s["amount"]}
                for did, score in parties.items():
                    if did != m.treasury:
                        scores[did] = scores.get(did, 0) + score
        before = m.available(m.treasury)
        shares = patronage_shares(scores, before, TERMS.patronage_fraction_bps)
        result = self.run(self.h.exchange.distribute_patronage(start, end))
        assert (result.treasury_before, result.credits) == (before, shares)
        for did, credit in shares.items():
            m.balance[did] += credit
            m.balance[m.treasury] -= credit
        self.period_start = end
        again = self.run(self.h.exchange.distribute_patronage(start, end))
        assert again.already_distributed

    @precondition(lambda self: any(s["amount"] and not s["refunded"]
                                   for s in self.model.settled.values()))  # fmt: skip
    @rule(index=st.integers(0, 1_000))
    def refund(self, index: int) -> None:
        m = self.model
        candidates = [s for s in m.settled.values() if s["amount"] and not s["refunded"]]
        s = candidates[index % len(candidates)]
        payout, fee = s["amount"] - s["fee"], s["fee"]
        self_loop = s["requester"] == s["provider"]
        ok = (self_loop or m.available(s["provider"]) >= payout) and (
            m.available(m.treasury) >= fee
        )
        ex = self.h.exchange
        if s["dispute"] is None:  # a refused refund leaves its dispute open: resolve that one
            opened = self.run(ex.open_dispute(
                settlement_uri=_uri(s["uri"]), raised_by=_parse(s["requester"]), raised_at=None,
                category="other", detail=None, evidence_cid=None,
            ))  # fmt: skip
            s["dispute"] = opened.dispute.uri
        try:
            self.run(ex.resolve_dispute(_uri(s["dispute"]), "refund-full", 0, None))
        except InsufficientBalance:
            assert not ok
            return
        assert ok
        if not self_loop:
            m.balance[s["provider"]] -= payout
            m.balance[s["requester"]] += payout
        m.balance[m.treasury] -= fee
        m.balance[s["requester"]] += fee
        s["refunded"] = True

    # ------------------------------------------------------------------ invariants

    @invariant()
    def books_balance(self) -> None:
        report = self.run(self.h.exchange.reconcile())
        assert report.ok, report.drifts
        assert sum(self.model.balance.values()) == self.model.minted

    @invariant()
    def balances_match_the_model(self) -> None:
        for did in {*self.dids, self.model.treasury}:
            view = self.run(self.h.exchange.balance(_parse(did), touch=False))
            assert (view.balance, view.held) == (
                self.model.balance.get(did, 0),
                self.model.held(did),
            ), did


def _parse(did: str) -> Did:
    return parse_did(did)


def _uri(uri: str) -> AtUri:
    return parse_at_uri(uri)


SETTINGS = settings(
    max_examples=10, stateful_step_count=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)  # fmt: skip


def test_exchange_state_machine_on_sqlite() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        counter = iter(range(10_000))

        async def url() -> str:
            return sqlite_url(Path(tmp) / f"sm{next(counter)}.db")

        ExchangeMachine.url_factory = staticmethod(url)
        run_state_machine_as_test(ExchangeMachine, settings=SETTINGS)


class FastAdmitMachine(ExchangeMachine):
    fast_admit = True


def test_exchange_state_machine_with_admission_from_memory() -> None:
    """The same invariants and the same model when admissions are answered before commit."""
    with tempfile.TemporaryDirectory() as tmp:
        counter = iter(range(10_000))

        async def url() -> str:
            return sqlite_url(Path(tmp) / f"fast{next(counter)}.db")

        FastAdmitMachine.url_factory = staticmethod(url)
        run_state_machine_as_test(FastAdmitMachine, settings=SETTINGS)


@pytest.mark.postgres
def test_exchange_state_machine_on_postgres(postgres_server: PostgresServer) -> None:
    created: list[str] = []

    async def url() -> str:
        created.append(await create_database(postgres_server, "sm"))
        return created[-1]

    ExchangeMachine.url_factory = staticmethod(url)
    try:
        run_state_machine_as_test(ExchangeMachine, settings=SETTINGS)
    finally:
        loop = asyncio.new_event_loop()
        for database in created:
            loop.run_until_complete(drop_database(postgres_server, database))
        loop.close()
