"""The exchange's domain API: what the gRPC handlers (and the receipt sources) call.

It knows nothing about gRPC. Writes go through the single `Writer`; receipt verification
through the `Verifier` (inline or on worker processes); reads straight to the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from cocore.crypto import SigningKey
from cocore.errors import CocoreError, FailedPrecondition, InvalidInput
from cocore.lexicon import ids
from cocore.signing import sign_exchange_record
from cocore.storage import Database
from cocore.syntax import AtUri, Did
from cocore.verify import Finding, Severity
from cocore.verify.fields import get, get_time

from . import db
from .admission import AdmissionBook
from .disputes import (
    CATEGORIES,
    VERDICTS,
    DisputeDone,
    DisputeRefused,
    OpenDisputeCommand,
    ResolveDisputeCommand,
)
from .errors import (
    DependencyUnavailable,
    DisputeConflict,
    DisputeNotFound,
    HoldNotFound,
    IdempotencyConflict,
    InsufficientBalance,
    InvalidPeriod,
    NothingToRefund,
    PeriodNotOver,
    PeriodOverlaps,
    SettlementNotFound,
)
from .fetch import RecordFetcher
from .holds import AdmitCommand, Admitted, Conflict, HoldState, ReleaseCommand, TouchCommand
from .ledger_sql import SqlLedgerStore
from .ledger_store import JournalEntry
from .ledger_types import account_id
from .patronage import Distribution, Overlap, PatronageCommand
from .policies import Policies
from .reconcile import ReconcileCommand, Report
from .records import StrongRef, when
from .settlement import RejectCommand, SettleCommand, Settled, Unsettled
from .verification import Bundle, Pin, Rejected
from .verifier_pool import Verifier
from .writer import Writer

DEFAULT_HOLD_TTL_S = 15 * 60
MAX_HOLD_TTL_S = 24 * 3600


@dataclass(frozen=True, slots=True)
class Refusal:
    """A receipt the exchange will not settle (now): the findings say why."""

    findings: tuple[Finding, ...]
    retryable: bool

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(f.code for f in self.findings if f.severity is Severity.ERROR)


@dataclass(frozen=True, slots=True)
class BalanceView:
    did: str
    member: bool
    balance: int
    available: int
    held: int
    granted_at: datetime | None
    next_refresh_at: datetime | None


class Exchange:
    def __init__(
        self,
        *,
        database: Database,
        writer: Writer,
        verifier: Verifier,
        policies: Policies,
        key: SigningKey,
        clock: Callable[[], datetime],
        fetcher: RecordFetcher | None = None,
        admissions: AdmissionBook | None = None,
    ) -> None:
        self.db = database
        self.writer = writer
        self.verifier = verifier
        self.policies = policies
        self.key = key
        self.clock = clock
        self.fetcher = fetcher
        self.admissions = admissions

    @property
    def did(self) -> Did:
        return self.policies.exchange

    # ------------------------------------------------------------------ admission

    async def admit(
        self, requester: Did, amount: int, key: str, job_uri: AtUri | None, ttl_s: int
    ) -> Admitted:
        ttl_s = min(max(ttl_s or DEFAULT_HOLD_TTL_S, 1), MAX_HOLD_TTL_S)
        command = AdmitCommand(str(requester), amount, key, job_uri and str(job_uri), ttl_s)
        fast = self._admit_from_memory(command)
        if fast is not None:
            return fast
        result = await self.writer.submit(command)
        if isinstance(result, Conflict):
            raise IdempotencyConflict(
                "this idempotency key already holds a different amount or job",
                details={"hold_id": result.hold_id},
            )
        if not isinstance(result, Admitted):
            raise InsufficientBalance(
                f"balance {result.available} available, {result.required} required "
                f"(price ceiling + token floor), short by {result.short_by}",
                details={"balance": result.balance, "available": result.available,
                         "required": result.required, "short_by": result.short_by},
            )  # fmt: skip
        return result

    def _admit_from_memory(self, command: AdmitCommand) -> Admitted | None:
        """The common case: answer now, the hold commits in the writer's next batch."""
        book = self.admissions
        if book is None:
            return None
        floor = self.policies.current.terms.token_floor
        fast = book.admit(command, floor=floor, now=self.clock())
        if fast is None:
            return None
        future = self.writer.enqueue(command, deferred=True)
        book.track(fast, command.requester, future)
        future.add_done_callback(lambda f: book.settled(command.hold, _outcome(f)))
        return fast

    async def release(self, hold_id: str) -> HoldState:
        state = await self.writer.submit(ReleaseCommand(hold_id))
        if state is None:
            raise HoldNotFound("no such hold", details={"hold_id": hold_id})
        return state

    # ------------------------------------------------------------------ settlement

    def pin(self, receipt: Mapping[str, Any]) -> Pin:
        """Settle under the policy in force when the work completed, with its attestation."""
        completed = get_time(receipt, "completedAt")
        policy = self.policies.at(completed) if completed else self.policies.current
        attestation = self.policies.attestation_for(policy)
        return Pin(self.did, policy, attestation, self.clock())

    async def settle(self, bundle: Bundle) -> Settled | Refusal:
        """Verify, then settle exactly once; a refusal is recorded and stays visible."""
        outcome = await self.verifier.prepare(bundle, self.pin(bundle.receipt))
        if isinstance(outcome, Rejected):
            receipt = StrongRef(str(bundle.receipt_uri), bundle.receipt_cid or "")
            done = await self.writer.submit(RejectCommand(receipt, outcome.codes, False))
            return done if done is not None else Refusal(outcome.findings, False)
        result = await self.writer.submit(SettleCommand(outcome))
        if isinstance(result, Unsettled):
            finding = Finding(Severity.ERROR, result.codes[0], result.message)
            return Refusal((finding,), result.retryable)
        return result

    async def assemble(
        self,
        receipt_uri: AtUri,
        receipt: dict[str, Any],
        *,
        receipt_cid: str | None = None,
        job: dict[str, Any] | None = None,
        authorization: dict[str, Any] | None = None,
        attestation: dict[str, Any] | None = None,
        hold_hint: str | None = None,
    ) -> Bundle:
        """The receipt with its job, authorization and attestation, fetching what is missing."""
        if self.fetcher is None and None in (job, authorization, attestation):
            raise DependencyUnavailable("records were not supplied and no fetcher is configured")
        if job is None:
            assert self.fetcher is not None
            job = await self.fetcher.fetch(receipt.get("job"), ids.COMPUTE_JOB)
        if attestation is None:
            assert self.fetcher is not None
            attestation = await self.fetcher.fetch(
                receipt.get("attestation"), ids.COMPUTE_ATTESTATION
            )
        if authorization is None:
            assert self.fetcher is not None
            authorization = await self.fetcher.fetch(
                get(job, "paymentAuthorization"), ids.COMPUTE_PAYMENT_AUTHORIZATION
            )
        return Bundle(receipt_uri, receipt, job, authorization, attestation, receipt_cid,
                      hold_hint)  # fmt: skip

    # ------------------------------------------------------------------ reads

    async def balance(self, did: Did, *, touch: bool) -> BalanceView:
        """A DID's balance; `touch` (an owner's read) applies a due refresh to a member."""
        view = await self._balance(did)
        if touch and view.member and view.next_refresh_at and view.next_refresh_at <= self.clock():
            await self.writer.submit(TouchCommand(str(did)))
            view = await self._balance(did)
        return view

    async def _balance(self, did: Did) -> BalanceView:
        if self.admissions is not None:  # read your writes: holds answered from memory first
            pending = self.admissions.in_flight(str(did))
            if pending:
                self.writer.hurry()
            await asyncio.gather(*map(asyncio.shield, pending), return_exceptions=True)
        async with self.db.session() as session:
            conn = await session.connection()
            key = account_id(did, self.policies.current.terms.currency)
            accounts = await SqlLedgerStore(conn).accounts([key])
            member = (await conn.execute(select(db.Member).where(db.Member.did == did))).first()
        account = accounts.get(key)
        terms = self.policies.current.terms
        next_refresh = None
        if member is not None and terms.refresh_amount > 0:
            next_refresh = member.last_refresh_at + timedelta(minutes=terms.refresh_cadence_minutes)
        if account is None:
            return BalanceView(str(did), member is not None, 0, 0, 0, None, None)
        return BalanceView(
            str(did), member is not None, account.balance, account.available,
            account.debits_pending, member.granted_at if member else None, next_refresh,
        )  # fmt: skip

    async def journal(self, did: Did, limit: int, before_seq: int | None) -> list[JournalEntry]:
        async with self.db.session() as session:
            conn = await session.connection()
            key = account_id(did, self.policies.current.terms.currency)
            return await SqlLedgerStore(conn).journal(key, limit, before_seq)

    async def unsettled(self, limit: int) -> list[Any]:
        """Receipts refused and not settled since, most recently seen first."""
        query = select(db.REJECTIONS).order_by(db.REJECTIONS.c.last_seen.desc()).limit(limit)
        async with self.db.session() as session:
            return list((await session.execute(query)).all())

    # ------------------------------------------------------------------ terms

    def sign_terms_acceptance(
        self, user: Did, user_agent: str | None, accepted_at: datetime | None
    ) -> dict[str, Any]:
        """A termsAcceptance for the active policy, countersigned by the exchange."""
        policy = self.policies.current
        terms = policy.terms
        if not (terms.terms_uri and terms.terms_version):
            raise FailedPrecondition("the policy names no terms of service", code="no_terms")
        record: dict[str, Any] = {
            "$type": ids.COMPUTE_TERMS_ACCEPTANCE, "exchange": self.did,
            "policy": policy.ref.to_json(), "termsVersion": terms.terms_version,
            "termsUri": terms.terms_uri, "acceptedAt": when(accepted_at or self.clock()),
            "attestation": self.policies.attestation_for(policy).to_json(),
        }  # fmt: skip
        if user_agent:
            record["userAgent"] = user_agent[:512]
        del user  # the acceptance lives in the user's repo; the record itself names no DID
        return sign_exchange_record(record, self.key)

    # ------------------------------------------------------------------ operators

    async def distribute_patronage(self, start: datetime, end: datetime) -> Distribution:
        if not start < end:
            raise InvalidPeriod("a period's start must be before its end")
        if end > self.clock():
            raise PeriodNotOver("a period can be distributed once it has ended")
        if self.policies.current.terms.patronage_fraction_bps == 0:
            raise FailedPrecondition("patronage is off in the active policy", code="patronage_off")
        result = await self.writer.submit(PatronageCommand(start, end))
        if isinstance(result, Overlap):
            raise PeriodOverlaps(
                f"[{when(start)}, {when(end)}) overlaps the distributed period "
                f"[{when(result.start)}, {when(result.end)})",
                details={"start": when(result.start), "end": when(result.end)},
            )
        return result

    async def open_dispute(
        self,
        *,
        settlement_uri: AtUri,
        raised_by: Did,
        raised_at: datetime | None,
        category: str,
        detail: str | None,
        evidence_cid: str | None,
    ) -> DisputeDone:
        if category not in CATEGORIES:
            raise InvalidInput(f"category must be one of {', '.join(CATEGORIES)}")
        command = OpenDisputeCommand(str(settlement_uri), str(raised_by),
                                     raised_at or self.clock(), category, detail, evidence_cid,
                                     self.key)  # fmt: skip
        return _dispute_outcome(await self.writer.submit(command))

    async def resolve_dispute(
        self, dispute_uri: AtUri, verdict: str, refund_amount: int, rationale: str | None
    ) -> DisputeDone:
        if verdict not in VERDICTS:
            raise InvalidInput(f"verdict must be one of {', '.join(VERDICTS)}")
        refs = {v.ref.uri: v.ref for v in self.policies.versions}
        command = ResolveDisputeCommand(str(dispute_uri), verdict, refund_amount, rationale,
                                        self.key, refs)  # fmt: skip
        return _dispute_outcome(await self.writer.submit(command))

    async def reconcile(self) -> Report:
        terms = self.policies.current.terms
        params = {"settlement": str(ids.COMPUTE_SETTLEMENT), "grant": str(ids.ACCOUNT_TOKEN_GRANT)}
        command = ReconcileCommand(terms.currency, str(terms.treasury(self.did)), params)
        return await self.writer.submit(command)


def _dispute_outcome(result: DisputeDone | DisputeRefused) -> DisputeDone:
    if isinstance(result, DisputeDone):
        return result
    errors: dict[str, type[CocoreError]] = {
        "settlement_not_found": SettlementNotFound, "dispute_not_found": DisputeNotFound,
        "dispute_conflict": DisputeConflict, "insufficient_balance": InsufficientBalance,
        "nothing_to_refund": NothingToRefund,
    }  # fmt: skip
    raise errors[result.code](result.message)


def _outcome(future: asyncio.Future[Any]) -> Any:
    if future.cancelled():
        return None
    return future.exception() or future.result()
