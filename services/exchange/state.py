"""One batch's view of the exchange: the ledger plus the domain rows it loaded, and its writes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cocore.syntax import Did

from .ledger import Ledger
from .ledger_types import account_id
from .policy import PolicyTerms
from .records import OutRecord, StrongRef


@dataclass(slots=True)
class MemberRow:
    did: str
    granted_at: datetime
    grant_amount: int
    last_refresh_at: datetime
    refreshes: int


@dataclass(frozen=True, slots=True)
class HoldRow:
    id: str
    requester: str
    amount: int
    job_uri: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SettlementRow:
    uri: str
    cid: str
    status: str
    receipt_uri: str
    receipt_cid: str
    refund_of: str | None
    requester: str
    provider: str
    currency: str
    amount: int
    fee: int
    payout: int
    refunded_amount: int
    completed_at: datetime
    policy_uri: str
    auth_key: str
    auth_uri: str
    auth_cid: str
    hold_id: str | None
    transfer_id: str | None
    created_at: datetime

    @property
    def ref(self) -> StrongRef:
        return StrongRef(self.uri, self.cid)


@dataclass(slots=True)
class AuthRow:
    key: str
    uri: str
    scope: str
    budget: int | None
    charged: int
    uses: int


@dataclass(frozen=True, slots=True)
class RejectionRow:
    receipt_uri: str
    receipt_cid: str
    codes: tuple[str, ...]
    retryable: bool


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    """A published policy: its terms, its strongRef, and when it was in force."""

    ref: StrongRef
    terms: PolicyTerms
    created_at: datetime
    superseded_at: datetime | None


@dataclass(frozen=True, slots=True)
class Context:
    """What every command may read that is not in the database rows it loaded."""

    exchange: Did
    treasury: Did
    policy: PolicyVersion
    attestation: StrongRef

    @property
    def currency(self) -> str:
        return self.policy.terms.currency

    def account(self, owner: str) -> str:
        return account_id(owner, self.policy.terms.currency)


@dataclass
class Keys:
    """What a batch's commands will touch, so it can be loaded in a few set-based reads."""

    dids: set[str] = field(default_factory=set)
    hold_ids: set[str] = field(default_factory=set)
    job_uris: set[str] = field(default_factory=set)
    receipt_uris: set[str] = field(default_factory=set)
    settlement_uris: set[str] = field(default_factory=set)
    auth_keys: set[str] = field(default_factory=set)
    transfer_ids: set[str] = field(default_factory=set)
    pending_ids: set[str] = field(default_factory=set)

    def merge(self, other: Keys) -> None:
        for name in self.__dataclass_fields__:
            getattr(self, name).update(getattr(other, name))


@dataclass
class Batch:
    """Loaded rows, the ledger over them, and every write the commands make."""

    now: datetime
    context: Context
    ledger: Ledger
    members: dict[str, MemberRow] = field(default_factory=dict)
    holds: dict[str, HoldRow] = field(default_factory=dict)
    settlements: dict[str, SettlementRow] = field(default_factory=dict)  # by receipt uri
    settlements_by_uri: dict[str, SettlementRow] = field(default_factory=dict)
    authorizations: dict[str, AuthRow] = field(default_factory=dict)
    # writes
    new_members: dict[str, MemberRow] = field(default_factory=dict)
    touched_members: set[str] = field(default_factory=set)
    new_holds: list[HoldRow] = field(default_factory=list)
    new_settlements: list[SettlementRow] = field(default_factory=list)
    refunded: dict[str, int] = field(default_factory=dict)  # settlement uri → refunded total
    new_auths: set[str] = field(default_factory=set)
    touched_auths: set[str] = field(default_factory=set)
    outbox: list[OutRecord] = field(default_factory=list)
    rejections: list[RejectionRow] = field(default_factory=list)
    tid: Callable[[], str] = field(default=lambda: "")
    transfer_count: int = 0  # journal entries the batch wrote (known once it is saved)
    # rows of other tables an exclusive command writes: (table, values), (table, key, values)
    inserts: list[tuple[Any, dict[str, Any]]] = field(default_factory=list)
    updates: list[tuple[Any, dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    holds_by_job: dict[str, list[HoldRow]] = field(default_factory=dict)  # see add_hold

    def add_hold(self, row: HoldRow) -> None:
        """Every hold enters through here, so `holds_for_job` is a lookup, not a scan (a batch
        of n settlements with holds would otherwise cost n² comparisons)."""
        if row.id not in self.holds and row.job_uri is not None:
            self.holds_by_job.setdefault(row.job_uri, []).append(row)
        self.holds[row.id] = row

    def holds_for_job(self, job_uri: str) -> list[HoldRow]:
        return list(self.holds_by_job.get(job_uri, ()))

    def add_settlement(self, row: SettlementRow) -> None:
        if row.status == "settled":
            assert row.receipt_uri not in self.settlements, "settled twice in one batch"
            self.settlements[row.receipt_uri] = row
        self.settlements_by_uri[row.uri] = row
        self.new_settlements.append(row)
