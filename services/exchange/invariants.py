"""The ledger's invariants as code: the same checks run in tests, in memory and in `reconcile`.

1. Double entry: Σ debits = Σ credits, posted and pending alike.
2. Every cached account total equals what its journal entries add up to.
3. No account that must not go negative has (posted + pending debits ≤ posted credits).
4. Money is only minted by grants and refreshes: Σ of every non-mint balance (the treasury
   included) = Σ grants + refreshes = what the mint account has paid out.
5. Escrow passes money through: its posted balance is 0 and its pending credits equal the
   holds still pending.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .ledger_types import (
    ESCROW,
    MINT,
    MINT_KINDS,
    Account,
    AccountFlags,
    Pending,
    PendingStatus,
    Transfer,
    TransferFlags,
    account_id,
)


@dataclass(frozen=True, slots=True)
class Drift:
    """One violated invariant: a stable code, what it concerns, and the numbers."""

    code: str
    subject: str
    message: str


@dataclass(slots=True)
class Totals:
    debits_pending: int = 0
    debits_posted: int = 0
    credits_pending: int = 0
    credits_posted: int = 0

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.debits_pending, self.debits_posted, self.credits_pending, self.credits_posted)


def journal_totals(
    transfers: Iterable[Transfer], pending: Mapping[str, Pending]
) -> dict[str, Totals]:
    """What each account's totals must be, recomputed from the journal alone."""
    totals: dict[str, Totals] = defaultdict(Totals)
    for t in transfers:
        debit, credit = totals[t.debit_account_id], totals[t.credit_account_id]
        if t.flags & TransferFlags.PENDING:
            state = pending.get(t.id)
            if state is not None and state.status is PendingStatus.PENDING:
                debit.debits_pending += t.amount
                credit.credits_pending += t.amount
        elif not t.flags & TransferFlags.VOID_PENDING:
            debit.debits_posted += t.amount
            credit.credits_posted += t.amount
    return totals


def check_ledger(
    accounts: Mapping[str, Account],
    transfers: Iterable[Transfer],
    pending: Mapping[str, Pending],
    currency: str,
) -> list[Drift]:
    """Every invariant above, over a complete snapshot of one currency's books."""
    journal = list(transfers)
    drifts = _double_entry(accounts.values())
    totals = journal_totals(journal, pending)
    for key, account in sorted(accounts.items()):
        expected = totals.get(key, Totals()).as_tuple()
        actual = Totals(*_account_totals(account)).as_tuple()
        if expected != actual:
            drifts.append(Drift("cache-drift", key, f"cached {actual} but journal says {expected}"))
        if account.flags & AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS and account.available < 0:
            drifts.append(Drift("negative-balance", key, f"available {account.available} < 0"))
    minted = sum(t.amount for t in journal if t.kind in MINT_KINDS)
    drifts += check_supply(accounts, minted, currency)
    escrow = account_id(ESCROW, currency)
    held = sum(
        p.transfer.amount
        for p in pending.values()
        if p.status is PendingStatus.PENDING and p.transfer.credit_account_id == escrow
    )
    drifts += check_escrow(accounts.get(escrow), held)
    return drifts


def check_supply(accounts: Mapping[str, Account], minted: int, currency: str) -> list[Drift]:
    """Σ balances outside the mint (treasury included) = Σ mints = what the mint paid out."""
    mint = accounts.get(account_id(MINT, currency))
    paid_out = -mint.balance if mint is not None else 0
    held = sum(a.balance for a in accounts.values() if a.owner != MINT)
    drifts = []
    if paid_out != minted:
        drifts.append(Drift("mint-mismatch", MINT, f"mint paid out {paid_out}, mints sum {minted}"))
    if held != minted:
        drifts.append(Drift("supply-mismatch", "*", f"balances sum {held}, mints sum {minted}"))
    return drifts


def check_escrow(escrow: Account | None, pending_holds: int) -> list[Drift]:
    if escrow is None:
        return (
            [] if pending_holds == 0 else [Drift("escrow-missing", ESCROW, "holds but no escrow")]
        )
    drifts = []
    if escrow.balance != 0:
        drifts.append(Drift("escrow-not-empty", escrow.id, f"escrow balance {escrow.balance}"))
    if escrow.credits_pending != pending_holds:
        drifts.append(
            Drift(
                "escrow-pending-mismatch",
                escrow.id,
                f"escrow holds {escrow.credits_pending}, pending holds sum {pending_holds}",
            )
        )
    return drifts


def _double_entry(accounts: Iterable[Account]) -> list[Drift]:
    sums = [0, 0, 0, 0]
    for a in accounts:
        for i, value in enumerate(_account_totals(a)):
            sums[i] += value
    drifts = []
    if sums[0] != sums[2]:
        drifts.append(Drift("unbalanced", "pending", f"debits {sums[0]} ≠ credits {sums[2]}"))
    if sums[1] != sums[3]:
        drifts.append(Drift("unbalanced", "posted", f"debits {sums[1]} ≠ credits {sums[3]}"))
    return drifts


def _account_totals(a: Account) -> tuple[int, int, int, int]:
    return (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted)
