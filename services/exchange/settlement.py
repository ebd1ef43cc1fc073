"""Settlement in the ledger: exactly once per receipt, authorizations consumed per (DID, nonce).

A verified receipt (`Prepared`, built off the writer by `verification.py`) is applied in one
linked chain: capture the requester's hold for the job (or, with no live hold, charge the
balance directly), pay the provider, pay the fee to the treasury. If the chain cannot apply
(the balance does not cover it) nothing moves and the receipt stays visible as unsettled.
The settlement row, the authorization's consumption and the signed settlement record in the
outbox are written in the same transaction as the transfers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from . import events
from .holds import void_hold
from .ledger_types import (
    ESCROW,
    Kind,
    PendingStatus,
    Result,
    Transfer,
    TransferFlags,
)
from .membership import touch
from .records import StrongRef, settlement_out
from .state import AuthRow, Batch, HoldRow, Keys, RejectionRow, SettlementRow
from .writer import Tx


@dataclass(frozen=True, slots=True)
class Prepared:
    """A receipt that passed every check that needs no ledger state, with its signed record."""

    receipt: StrongRef
    requester: str
    provider: str
    job_uri: str
    completed_at: datetime
    amount: int
    fee: int
    currency: str
    pro_bono: bool
    auth: StrongRef
    auth_key: str  # "<requester DID> <nonce>"
    auth_scope: str
    auth_budget: int  # the session budget, or the ceiling of a single-job authorization
    policy_uri: str
    record: str  # the signed settlement record as the outbox stores it (`record_text`)
    cid: str  # its CID, computed locally; the writer gives it its rkey
    hold_hint: str | None = None  # the hold the gateway names, if any

    @property
    def transfer_id(self) -> str:
        return f"capture:{self.receipt.uri}"


@dataclass(frozen=True, slots=True)
class Settled:
    settlement: StrongRef
    amount: int
    fee: int
    payout: int
    duplicate: bool
    hold_id: str | None


@dataclass(frozen=True, slots=True)
class Unsettled:
    """Refused by the ledger step; `retryable` when a later attempt may succeed."""

    codes: tuple[str, ...]
    message: str
    retryable: bool


@dataclass(frozen=True, slots=True)
class SettleCommand:
    prepared: Prepared
    exclusive: bool = False

    def keys(self) -> Keys:
        p = self.prepared
        # (the grants of DIDs that are not members yet are loaded by `load_batch`)
        ids = {p.transfer_id, f"payout:{p.receipt.uri}", f"fee:{p.receipt.uri}"}
        holds = {p.hold_hint} if p.hold_hint else set()
        return Keys(dids={p.requester, p.provider}, receipt_uris={p.receipt.uri},
                    job_uris={p.job_uri}, hold_ids=holds, auth_keys={p.auth_key},
                    transfer_ids=ids)  # fmt: skip

    async def prepare(self, tx: Tx) -> None:
        return None

    def apply(self, batch: Batch) -> Settled | Unsettled:
        p = self.prepared
        existing = batch.settlements.get(p.receipt.uri)
        if existing is not None:
            _release_job_holds(batch, p)
            events.settlement_duplicate()
            return Settled(existing.ref, existing.amount, existing.fee, existing.payout, True,
                           existing.hold_id)  # fmt: skip
        refusal = _authorization_refusal(batch, p)
        if refusal is not None:
            return _reject(batch, p, refusal)
        touch(batch, p.requester)
        touch(batch, p.provider)
        hold = _capture(batch, p)
        if isinstance(hold, Unsettled):
            return _reject(batch, p, hold)
        _consume_authorization(batch, p)
        record = settlement_out(batch.context.exchange, batch.tid(), p.record, p.cid)
        row = SettlementRow(
            uri=record.uri, cid=record.cid, status="settled", receipt_uri=p.receipt.uri,
            receipt_cid=p.receipt.cid, refund_of=None, requester=p.requester,
            provider=p.provider, currency=p.currency, amount=p.amount, fee=p.fee,
            payout=p.amount - p.fee, refunded_amount=0, completed_at=p.completed_at,
            policy_uri=p.policy_uri, auth_key=p.auth_key, auth_uri=p.auth.uri,
            auth_cid=p.auth.cid, hold_id=hold,
            transfer_id=p.transfer_id if p.amount else None, created_at=batch.now,
        )  # fmt: skip
        batch.add_settlement(row)
        batch.outbox.append(record)
        return Settled(row.ref, p.amount, p.fee, row.payout, False, hold)


def _authorization_refusal(batch: Batch, p: Prepared) -> Unsettled | None:
    """Single-use authorizations settle one receipt; sessions stay within their budget."""
    if p.pro_bono:
        return None  # free work consumes nothing (the reference agrees)
    auth = batch.authorizations.get(p.auth_key)
    if auth is None:
        return None
    if auth.uri != p.auth.uri or auth.scope == "singleJob" or p.auth_scope != auth.scope:
        # The nonce is the replay key: a second record reusing it is a replay, whatever it says.
        return Unsettled(
            ("authorization-already-consumed",),
            "this requester's authorization nonce has already been used",
            False,
        )
    if auth.budget is not None and auth.charged + p.amount > auth.budget:
        return Unsettled(
            ("session-budget-exceeded",),
            f"session charged {auth.charged} + {p.amount} would exceed its budget {auth.budget}",
            False,
        )
    return None


def _consume_authorization(batch: Batch, p: Prepared) -> None:
    if p.pro_bono:
        return
    auth = batch.authorizations.get(p.auth_key)
    if auth is None:
        budget = p.auth_budget if p.auth_scope == "session" else None
        auth = AuthRow(p.auth_key, p.auth.uri, p.auth_scope, budget, 0, 0)
        batch.authorizations[p.auth_key] = auth
        batch.new_auths.add(p.auth_key)
    auth.charged += p.amount
    auth.uses += 1
    batch.touched_auths.add(p.auth_key)


def _live_hold(batch: Batch, p: Prepared) -> HoldRow | None:
    """The requester's pending hold for this job (or the one the gateway named)."""
    candidates = batch.holds_for_job(p.job_uri)
    if p.hold_hint and p.hold_hint in batch.holds:
        candidates.insert(0, batch.holds[p.hold_hint])
    for hold in candidates:
        pending = batch.ledger.view.pending.get(hold.id)
        if hold.requester == p.requester and pending and pending.status is PendingStatus.PENDING:
            return hold
    return None


def _capture(batch: Batch, p: Prepared) -> str | Unsettled | None:
    """Move the money; returns the captured hold's id (None when none was used)."""
    _void_expired_holds(batch, p)  # an expired hold must not keep reserving the balance
    hold = _live_hold(batch, p)
    if p.amount == 0:
        _release_job_holds(batch, p)
        return None
    account = batch.context.account
    escrow = account(ESCROW)
    legs = [
        Transfer(f"payout:{p.receipt.uri}", escrow, account(p.provider), p.amount - p.fee,
                 Kind.PAYOUT, reference=p.receipt.uri),
        Transfer(f"fee:{p.receipt.uri}", escrow, account(batch.context.treasury), p.fee,
                 Kind.FEE, reference=p.receipt.uri),
    ]  # fmt: skip
    legs = [leg for leg in legs if leg.amount > 0]
    if hold is not None and hold.amount >= p.amount:
        post = Transfer(
            p.transfer_id, "", "", p.amount, Kind.CAPTURE, TransferFlags.POST_PENDING,
            pending_id=hold.id, reference=p.receipt.uri,
        )  # fmt: skip
        results = batch.ledger.create_transfers([post, *legs])
        if all(r is Result.OK for r in results):
            events.hold_ended("posted", hold.amount)
            return hold.id
        assert results[0] is Result.PENDING_TRANSFER_EXPIRED, f"capture failed: {results}"
        void_hold(batch, hold.id)  # expired, so it settles against the balance below
    direct = Transfer(p.transfer_id, account(p.requester), escrow, p.amount, Kind.CAPTURE,
                      reference=p.receipt.uri)  # fmt: skip
    results = batch.ledger.create_transfers([direct, *legs])
    if all(r is Result.OK for r in results):
        _release_job_holds(batch, p)
        return None
    assert results[0] is Result.EXCEEDS_CREDITS, f"direct charge failed: {results}"
    available = batch.ledger.view.accounts[account(p.requester)].available
    message = f"requester has {available} available, the receipt costs {p.amount}"
    return Unsettled(("insufficient-balance",), message, True)


def _void_expired_holds(batch: Batch, p: Prepared) -> None:
    for hold in batch.holds_for_job(p.job_uri):
        pending = batch.ledger.view.pending.get(hold.id)
        if pending and pending.status is PendingStatus.PENDING and batch.now >= pending.expires_at:
            void_hold(batch, hold.id)


def _release_job_holds(batch: Batch, p: Prepared) -> None:
    """A receipt settled without its hold (or settled already): free what the job reserved."""
    named = [batch.holds[p.hold_hint]] if p.hold_hint in batch.holds else []
    for hold in [*batch.holds_for_job(p.job_uri), *named]:
        pending = batch.ledger.view.pending.get(hold.id)
        if hold.requester == p.requester and pending and pending.status is PendingStatus.PENDING:
            void_hold(batch, hold.id)


def _reject(batch: Batch, p: Prepared, refusal: Unsettled) -> Unsettled:
    batch.rejections.append(
        RejectionRow(p.receipt.uri, p.receipt.cid, refusal.codes, refusal.retryable)
    )
    events.settlement_rejected(list(refusal.codes))
    return refusal


@dataclass(frozen=True, slots=True)
class RejectCommand:
    """Keep a refused receipt visible as unsettled (unless it turns out to be settled)."""

    receipt: StrongRef
    codes: tuple[str, ...]
    retryable: bool
    exclusive: bool = False

    def keys(self) -> Keys:
        return Keys(receipt_uris={self.receipt.uri})

    async def prepare(self, tx: Tx) -> None:
        return None

    def apply(self, batch: Batch) -> Settled | None:
        existing = batch.settlements.get(self.receipt.uri)
        if existing is not None:
            return Settled(existing.ref, existing.amount, existing.fee, existing.payout, True,
                           existing.hold_id)  # fmt: skip
        batch.rejections.append(
            RejectionRow(self.receipt.uri, self.receipt.cid, self.codes, self.retryable)
        )
        events.settlement_rejected(list(self.codes))
        return None
