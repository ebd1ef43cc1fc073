"""Admission with holds: place one (pending transfer to escrow), release it, let it expire.

`Admit` makes the requester a member on first touch, applies a due refresh, then places a
hold for the price ceiling iff `available − ceiling ≥ tokenFloor`. A hold is idempotent on
the caller's key (scoped to the requester) and voids itself after its deadline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from . import events
from .formulas import admission
from .ledger_types import (
    ESCROW,
    Kind,
    PendingStatus,
    Result,
    Transfer,
    TransferFlags,
)
from .membership import touch
from .state import Batch, HoldRow, Keys
from .writer import Tx


def hold_id(requester: str, key: str) -> str:
    return f"hold:{requester}:{key}"


def release_id(hold: str) -> str:
    return f"release:{hold}"


@dataclass(frozen=True, slots=True)
class Admitted:
    hold_id: str | None  # None: a zero ceiling needs no hold
    amount: int
    expires_at: datetime | None
    balance: int
    available: int
    granted: bool
    replayed: bool


@dataclass(frozen=True, slots=True)
class Refused:
    code: str
    balance: int
    available: int
    required: int
    short_by: int


@dataclass(frozen=True, slots=True)
class Conflict:
    hold_id: str


@dataclass(frozen=True, slots=True)
class AdmitCommand:
    requester: str
    amount: int
    key: str
    job_uri: str | None
    ttl_s: int
    exclusive: bool = False

    @property
    def hold(self) -> str:
        return hold_id(self.requester, self.key)

    def keys(self) -> Keys:
        return Keys(
            dids={self.requester},
            hold_ids={self.hold},
            transfer_ids={self.hold},
            pending_ids={self.hold},
        )

    async def prepare(self, tx: Tx) -> None:
        return None

    def apply(self, batch: Batch) -> Admitted | Refused | Conflict:
        existing = batch.holds.get(self.hold)
        if existing is not None:
            return self._replay(batch, existing)
        granted = touch(batch, self.requester)
        account = batch.ledger.view.accounts[batch.context.account(self.requester)]
        terms = batch.context.policy.terms
        check = admission(account.available, self.amount, terms.token_floor)
        if not check.ok:
            events.admission("refused")
            return Refused("insufficient_balance", account.balance, account.available,
                           check.required, check.short_by)  # fmt: skip
        if self.amount == 0:
            events.admission("admitted")
            return Admitted(None, 0, None, account.balance, account.available, granted, False)
        hold = Transfer(self.hold, account.id, batch.context.account(ESCROW), self.amount,
                        Kind.HOLD, TransferFlags.PENDING, timeout_s=self.ttl_s,
                        reference=self.job_uri or "")  # fmt: skip
        results = batch.ledger.create_transfers([hold])
        assert results == [Result.OK], f"hold refused after the admission check: {results}"
        row = HoldRow(self.hold, self.requester, self.amount, self.job_uri, batch.now)
        batch.add_hold(row)
        batch.new_holds.append(row)
        events.admission("admitted")
        expires = batch.now + timedelta(seconds=self.ttl_s)
        return Admitted(self.hold, self.amount, expires, account.balance, account.available,
                        granted, False)  # fmt: skip

    def _replay(self, batch: Batch, existing: HoldRow) -> Admitted | Conflict:
        if existing.amount != self.amount or existing.job_uri != self.job_uri:
            return Conflict(existing.id)
        account = batch.ledger.view.accounts[batch.context.account(self.requester)]
        pending = batch.ledger.view.pending[existing.id]
        return Admitted(existing.id, existing.amount, pending.expires_at, account.balance,
                        account.available, False, True)  # fmt: skip


@dataclass(frozen=True, slots=True)
class HoldState:
    hold_id: str
    amount: int
    status: PendingStatus
    changed: bool


@dataclass(frozen=True, slots=True)
class ReleaseCommand:
    """Void a hold early; releasing one already posted, voided or expired changes nothing."""

    hold_id: str
    exclusive: bool = False

    def keys(self) -> Keys:
        return Keys(hold_ids={self.hold_id}, pending_ids={self.hold_id},
                    transfer_ids={release_id(self.hold_id)})  # fmt: skip

    async def prepare(self, tx: Tx) -> None:
        return None

    def apply(self, batch: Batch) -> HoldState | None:
        if self.hold_id not in batch.holds:
            return None
        return void_hold(batch, self.hold_id)


def void_hold(batch: Batch, hold: str) -> HoldState:
    """Void a pending hold (it becomes `expired` if its deadline has passed)."""
    pending = batch.ledger.view.pending[hold]
    if pending.status is not PendingStatus.PENDING:
        return HoldState(hold, pending.transfer.amount, pending.status, False)
    void = Transfer(release_id(hold), "", "", 0, Kind.RELEASE, TransferFlags.VOID_PENDING,
                    pending_id=hold)  # fmt: skip
    results = batch.ledger.create_transfers([void])
    assert results == [Result.OK], f"voiding a pending hold failed: {results}"
    state = batch.ledger.view.pending[hold]
    events.hold_ended(str(state.status), state.transfer.amount)
    return HoldState(hold, state.transfer.amount, state.status, True)


@dataclass
class ExpireCommand:
    """Void holds whose deadline has passed (the sweep the writer's timer submits)."""

    limit: int = 1000
    exclusive: bool = False
    _due: list[str] | None = None

    def keys(self) -> Keys:
        due = set(self._due or ())
        return Keys(hold_ids=due, pending_ids=due, transfer_ids={release_id(h) for h in due})

    async def prepare(self, tx: Tx) -> None:
        self._due = await tx.ledger.expired_pending(tx.now, self.limit)

    def apply(self, batch: Batch) -> int:
        expired = 0
        for hold in self._due or ():
            pending = batch.ledger.view.pending.get(hold)
            if pending is not None and pending.status is PendingStatus.PENDING:
                expired += void_hold(batch, hold).changed
        return expired


@dataclass(frozen=True, slots=True)
class TouchCommand:
    """An owner's balance read: a due refresh for a member; nothing at all for a stranger."""

    did: str
    exclusive: bool = False

    def keys(self) -> Keys:
        return Keys(dids={self.did})

    async def prepare(self, tx: Tx) -> None:
        return None

    def apply(self, batch: Batch) -> bool:
        if self.did not in batch.members:
            return False
        touch(batch, self.did)
        return True
