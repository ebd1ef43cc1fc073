"""The ledger state machine: accounts and linked two-phase transfers, applied in memory.

The store loads what a batch names (`LedgerView`), the `Ledger` applies operations to it and
records a `LedgerDelta`, and the store writes the delta in the same database transaction as
everything else the batch does. Nothing here does I/O or reads a clock: `now` is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from .ledger_types import (
    MAX_AMOUNT,
    MAX_ID_CHARS,
    MAX_TOTAL,
    Account,
    AccountFlags,
    AccountResult,
    Pending,
    PendingStatus,
    Result,
    Transfer,
    TransferFlags,
    account_id,
)

# Plain ints: IntFlag arithmetic costs microseconds, and this is the hot path.
_PENDING = int(TransferFlags.PENDING)
_POST = int(TransferFlags.POST_PENDING)
_VOID = int(TransferFlags.VOID_PENDING)
_PHASES = _PENDING | _POST | _VOID
_SECOND_PHASE = _POST | _VOID
_MUST_NOT_EXCEED = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)


@dataclass
class LedgerView:
    """The part of the ledger one batch reads: accounts, transfers and pendings by id."""

    accounts: dict[str, Account] = field(default_factory=dict)
    transfers: dict[str, Transfer] = field(default_factory=dict)
    pending: dict[str, Pending] = field(default_factory=dict)


@dataclass
class LedgerDelta:
    """What a batch changed: final account states, new journal entries, pending states."""

    now: datetime
    created_accounts: dict[str, Account] = field(default_factory=dict)
    updated_accounts: dict[str, Account] = field(default_factory=dict)
    transfers: list[Transfer] = field(default_factory=list)
    pending: dict[str, Pending] = field(default_factory=dict)


@dataclass
class _Undo:
    """What one chain changed, so a failed chain can be taken back (cost: what it touched)."""

    transfers: int
    accounts: dict[str, Account] = field(default_factory=dict)
    pending: dict[str, Pending | None] = field(default_factory=dict)
    newly_updated: list[str] = field(default_factory=list)


class Ledger:
    """Applies operations to a `LedgerView` at one instant `now`."""

    def __init__(self, view: LedgerView, now: datetime) -> None:
        assert now.utcoffset() is not None, "the ledger clock is timezone-aware"
        self.view = view
        self.now = now
        self._created: set[str] = set()
        self._updated: set[str] = set()
        self._transfers: list[Transfer] = []
        self._pending_changed: set[str] = set()

    # ------------------------------------------------------------------ accounts

    def create_account(
        self, owner: str, currency: str, flags: AccountFlags
    ) -> tuple[AccountResult, Account]:
        """Open the account of (owner, currency); idempotent (`EXISTS` when it is already open)."""
        if not owner or not currency:
            return AccountResult.ID_MUST_NOT_BE_EMPTY, Account("", owner, currency, flags)
        key = account_id(owner, currency)
        existing = self.view.accounts.get(key)
        if existing is not None:
            if existing.flags != flags:
                return AccountResult.EXISTS_WITH_DIFFERENT_FLAGS, existing
            if existing.owner != owner:
                return AccountResult.EXISTS_WITH_DIFFERENT_OWNER, existing
            return AccountResult.EXISTS, existing
        account = Account(key, owner, currency, flags)
        self.view.accounts[key] = account
        self._created.add(key)
        return AccountResult.OK, account

    # ------------------------------------------------------------------ transfers

    def create_transfers(self, chain: Sequence[Transfer]) -> list[Result]:
        """Apply a linked chain: all transfers take effect, or none do.

        A chain whose every transfer already exists identically is an idempotent replay and
        reports `EXISTS` for each. Otherwise any result other than OK fails the chain: the
        failing transfer reports its own code and the others `LINKED_EVENT_FAILED`.
        """
        undo = _Undo(len(self._transfers))
        results: list[Result] = []
        for request in chain:
            results.append(self._apply(request, undo))
            if not results[-1].applied:
                break
        complete = len(results) == len(chain)
        if complete and len(set(results)) == 1:
            return results  # all OK, or an identical replay (all EXISTS)
        self._rollback(undo)
        failed: list[Result] = [
            r if r is not Result.OK else Result.LINKED_EVENT_FAILED for r in results
        ]
        return failed + [Result.LINKED_EVENT_FAILED] * (len(chain) - len(results))

    def delta(self) -> LedgerDelta:
        accounts = self.view.accounts
        return LedgerDelta(
            now=self.now,
            created_accounts={k: accounts[k] for k in sorted(self._created)},
            updated_accounts={k: accounts[k] for k in sorted(self._updated - self._created)},
            transfers=list(self._transfers),
            pending={k: self.view.pending[k] for k in sorted(self._pending_changed)},
        )

    def _apply(self, request: Transfer, undo: _Undo) -> Result:
        result = _validate(request)
        if result is not Result.OK:
            return result
        if int(request.flags) & _SECOND_PHASE:
            return self._apply_second_phase(request, undo)
        return self._apply_first_phase(request, undo)

    def _apply_first_phase(self, request: Transfer, undo: _Undo) -> Result:
        debit = self.view.accounts.get(request.debit_account_id)
        credit = self.view.accounts.get(request.credit_account_id)
        if debit is None or credit is None or debit is credit or debit.currency != credit.currency:
            return _account_problem(request, debit, credit)
        existing = self._existing(request.id)
        if existing is not None:
            return _compare(existing, request)
        amount = request.amount
        pending = bool(int(request.flags) & _PENDING)
        debit_top = max(debit.debits_pending, debit.debits_posted)
        credit_top = max(credit.credits_pending, credit.credits_posted)
        if max(debit_top, credit_top) + amount > MAX_TOTAL:
            return Result.OVERFLOWS_TOTAL
        if _must_not_exceed(debit) and amount > debit.available:
            return Result.EXCEEDS_CREDITS
        self._save(undo, debit, credit)
        if pending:
            debit.debits_pending += amount
            credit.credits_pending += amount
        else:
            debit.debits_posted += amount
            credit.credits_posted += amount
        stored = self._journal(request, undo)
        if pending:
            expires = self.now + timedelta(seconds=request.timeout_s)
            self._set_pending(request.id, Pending(stored, PendingStatus.PENDING, expires), undo)
        _assert_account(debit)
        _assert_account(credit)
        return Result.OK

    def _apply_second_phase(self, request: Transfer, undo: _Undo) -> Result:
        assert request.pending_id is not None
        pending = self.view.pending.get(request.pending_id)
        if pending is None:
            return Result.PENDING_TRANSFER_NOT_FOUND
        held = pending.transfer
        void = bool(int(request.flags) & _VOID)
        if void and request.amount not in (0, held.amount):
            return Result.EXCEEDS_PENDING_TRANSFER_AMOUNT
        normalized = replace(
            request,
            debit_account_id=held.debit_account_id,
            credit_account_id=held.credit_account_id,
            amount=held.amount if void else request.amount,
        )
        existing = self._existing(request.id)
        if existing is not None:
            return _compare(existing, normalized)
        expired = self.now >= pending.expires_at
        result = _first(
            (
                (pending.status is PendingStatus.POSTED, Result.PENDING_TRANSFER_ALREADY_POSTED),
                (pending.status is PendingStatus.VOIDED, Result.PENDING_TRANSFER_ALREADY_VOIDED),
                (pending.status is PendingStatus.EXPIRED, Result.PENDING_TRANSFER_EXPIRED),
                (not void and expired, Result.PENDING_TRANSFER_EXPIRED),
                (normalized.amount > held.amount, Result.EXCEEDS_PENDING_TRANSFER_AMOUNT),
            )
        )
        if result is not Result.OK:
            return result
        debit = self.view.accounts[held.debit_account_id]
        credit = self.view.accounts[held.credit_account_id]
        self._save(undo, debit, credit)
        debit.debits_pending -= held.amount
        credit.credits_pending -= held.amount
        if not void:
            debit.debits_posted += normalized.amount
            credit.credits_posted += normalized.amount
        stored = self._journal(normalized, undo)
        status = PendingStatus.POSTED
        if void:
            status = PendingStatus.EXPIRED if expired else PendingStatus.VOIDED
        self._set_pending(held.id, Pending(held, status, pending.expires_at), undo)
        assert stored.amount <= held.amount
        _assert_account(debit)
        _assert_account(credit)
        return Result.OK

    # ------------------------------------------------------------------ bookkeeping

    def _existing(self, transfer_id: str) -> Transfer | None:
        return self.view.transfers.get(transfer_id)

    def _journal(self, request: Transfer, undo: _Undo) -> Transfer:
        # Every entry of a batch shares the batch's instant (`LedgerDelta.now`), so the
        # request itself is the journal entry: no copy on the hot path.
        stored = request
        self.view.transfers[stored.id] = stored
        self._transfers.append(stored)
        return stored

    def _save(self, undo: _Undo, *accounts: Account) -> None:
        for account in accounts:
            if account.id not in undo.accounts:
                undo.accounts[account.id] = account.copy()
            if account.id not in self._updated:
                self._updated.add(account.id)
                undo.newly_updated.append(account.id)

    def _set_pending(self, pending_id: str, state: Pending, undo: _Undo) -> None:
        if pending_id not in undo.pending:
            undo.pending[pending_id] = self.view.pending.get(pending_id)
        self.view.pending[pending_id] = state
        self._pending_changed.add(pending_id)

    def _rollback(self, undo: _Undo) -> None:
        for key, before in undo.accounts.items():
            self.view.accounts[key] = before
        for key, state in undo.pending.items():
            if state is None:
                self.view.pending.pop(key, None)
                self._pending_changed.discard(key)
            else:
                self.view.pending[key] = state
        for stored in self._transfers[undo.transfers :]:
            del self.view.transfers[stored.id]
        del self._transfers[undo.transfers :]
        self._updated.difference_update(undo.newly_updated)


def _validate(t: Transfer) -> Result:
    """The checks that need nothing but the request itself, in precedence order."""
    flags = int(t.flags)
    if (flags == 0 and 0 < t.amount <= MAX_AMOUNT and t.pending_id is None
            and not t.timeout_s and 0 < len(t.id) <= MAX_ID_CHARS):  # fmt: skip
        return Result.OK  # the common case, without building the table below
    void = bool(flags & _VOID)
    second = bool(flags & _SECOND_PHASE)
    pending = bool(flags & _PENDING)
    return _first((
        (not t.id, Result.ID_MUST_NOT_BE_EMPTY),
        (len(t.id) > MAX_ID_CHARS, Result.ID_TOO_LONG),
        (bool(flags & ~_PHASES) or bin(flags).count("1") > 1,
         Result.FLAGS_ARE_MUTUALLY_EXCLUSIVE),
        (t.amount < 0 or (t.amount == 0 and not void), Result.AMOUNT_MUST_BE_POSITIVE),
        (t.amount > MAX_AMOUNT, Result.AMOUNT_TOO_LARGE),
        (not second and t.pending_id is not None, Result.PENDING_ID_MUST_BE_EMPTY),
        (second and not t.pending_id, Result.PENDING_ID_REQUIRED),
        (second and t.pending_id == t.id, Result.PENDING_ID_MUST_BE_DIFFERENT),
        (bool(t.timeout_s) and not pending, Result.TIMEOUT_RESERVED_FOR_PENDING),
        (pending and t.timeout_s <= 0, Result.TIMEOUT_REQUIRED_FOR_PENDING),
    ))  # fmt: skip


def _account_problem(request: Transfer, debit: Account | None, credit: Account | None) -> Result:
    """Why a transfer's two accounts cannot take it (checks in precedence order)."""
    if request.debit_account_id == request.credit_account_id:
        return Result.ACCOUNTS_MUST_BE_DIFFERENT
    if debit is None:
        return Result.DEBIT_ACCOUNT_NOT_FOUND
    if credit is None:
        return Result.CREDIT_ACCOUNT_NOT_FOUND
    return Result.ACCOUNTS_MUST_HAVE_SAME_CURRENCY


def _first(checks: Sequence[tuple[bool, Result]]) -> Result:
    """The first failing check's code (checks are listed in precedence order), or OK."""
    return next((code for failed, code in checks if failed), Result.OK)


def _compare(existing: Transfer, request: Transfer) -> Result:
    """TigerBeetle's idempotency: the same id must name the same transfer."""
    checks = (
        (existing.flags != request.flags, Result.EXISTS_WITH_DIFFERENT_FLAGS),
        (existing.debit_account_id != request.debit_account_id,
         Result.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT),
        (existing.credit_account_id != request.credit_account_id,
         Result.EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT),
        (existing.amount != request.amount, Result.EXISTS_WITH_DIFFERENT_AMOUNT),
        (existing.pending_id != request.pending_id, Result.EXISTS_WITH_DIFFERENT_PENDING_ID),
        (existing.kind != request.kind, Result.EXISTS_WITH_DIFFERENT_KIND),
        (existing.reference != request.reference, Result.EXISTS_WITH_DIFFERENT_REFERENCE),
    )  # fmt: skip
    result = _first(checks)
    return Result.EXISTS if result is Result.OK else result


def _must_not_exceed(account: Account) -> bool:
    return bool(int(account.flags) & _MUST_NOT_EXCEED)


def _assert_account(account: Account) -> None:
    """Checked after every change; a failure is a bug, so the process must stop."""
    dp, dpo, cpo = account.debits_pending, account.debits_posted, account.credits_posted
    assert dp >= 0 and dpo >= 0 and account.credits_pending >= 0 and cpo >= 0, account
    if int(account.flags) & _MUST_NOT_EXCEED:
        assert dpo + dp <= cpo, account
