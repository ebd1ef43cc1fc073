"""Where the ledger lives: the `LedgerStore` protocol and its in-memory implementation.

A store hands one batch the accounts, transfers and pendings it names (`load`), and writes
back what the batch changed (`save`). The SQL implementation (`ledger_sql.py`) does both
inside the batch's database transaction; this one keeps everything in dictionaries, so the
state machine can be tested without a database.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from .invariants import Drift, check_ledger
from .ledger import LedgerDelta, LedgerView
from .ledger_types import Account, Pending, PendingStatus, Transfer


@dataclass(frozen=True, slots=True)
class JournalEntry:
    seq: int
    transfer: Transfer


class LedgerStore(Protocol):
    async def load(
        self,
        account_ids: Collection[str],
        transfer_ids: Collection[str],
        pending_ids: Collection[str],
    ) -> LedgerView:
        """The named accounts, transfers and pendings (missing ones are simply absent)."""
        ...

    async def save(self, delta: LedgerDelta) -> None: ...

    async def accounts(self, account_ids: Collection[str]) -> dict[str, Account]: ...

    async def expired_pending(self, now: datetime, limit: int) -> list[str]:
        """Ids of pending transfers whose deadline has passed, oldest first."""
        ...

    async def journal(
        self, account_id: str, limit: int, before_seq: int | None
    ) -> list[JournalEntry]:
        """An account's journal entries, newest first."""
        ...

    async def audit(self, currency: str) -> list[Drift]:
        """Every ledger invariant over the whole book (see `invariants`)."""
        ...


class MemoryLedgerStore:
    """The whole ledger in dictionaries; `load` hands out copies, so an unsaved batch vanishes."""

    def __init__(self) -> None:
        self.accounts_by_id: dict[str, Account] = {}
        self.transfers: list[Transfer] = []
        self.transfer_index: dict[str, int] = {}
        self.pending: dict[str, Pending] = {}

    async def load(
        self,
        account_ids: Collection[str],
        transfer_ids: Collection[str],
        pending_ids: Collection[str],
    ) -> LedgerView:
        view = LedgerView()
        for key in account_ids:
            if (account := self.accounts_by_id.get(key)) is not None:
                view.accounts[key] = account.copy()
        for key in transfer_ids:
            if (index := self.transfer_index.get(key)) is not None:
                view.transfers[key] = self.transfers[index]
        for key in pending_ids:
            if (state := self.pending.get(key)) is not None:
                view.pending[key] = Pending(state.transfer, state.status, state.expires_at)
        return view

    async def save(self, delta: LedgerDelta) -> None:
        for key, account in delta.created_accounts.items():
            assert key not in self.accounts_by_id, f"account {key} created twice"
            self.accounts_by_id[key] = account.copy()
        for key, account in delta.updated_accounts.items():
            assert key in self.accounts_by_id, f"account {key} updated before it was created"
            self.accounts_by_id[key] = account.copy()
        for entry in delta.transfers:
            transfer = replace(entry, timestamp=entry.timestamp or delta.now)
            assert transfer.id not in self.transfer_index, f"transfer {transfer.id} twice"
            self.transfer_index[transfer.id] = len(self.transfers)
            self.transfers.append(transfer)
        for key, state in delta.pending.items():
            self.pending[key] = Pending(state.transfer, state.status, state.expires_at)

    async def accounts(self, account_ids: Collection[str]) -> dict[str, Account]:
        found = (self.accounts_by_id.get(k) for k in account_ids)
        return {a.id: a.copy() for a in found if a is not None}

    async def expired_pending(self, now: datetime, limit: int) -> list[str]:
        due = [
            p
            for p in self.pending.values()
            if p.status is PendingStatus.PENDING and p.expires_at <= now
        ]
        due.sort(key=lambda p: (p.expires_at, p.transfer.id))
        return [p.transfer.id for p in due[:limit]]

    async def journal(
        self, account_id: str, limit: int, before_seq: int | None
    ) -> list[JournalEntry]:
        out: list[JournalEntry] = []
        top = len(self.transfers) if before_seq is None else min(before_seq, len(self.transfers))
        for seq in range(top - 1, -1, -1):
            t = self.transfers[seq]
            if account_id in (t.debit_account_id, t.credit_account_id):
                out.append(JournalEntry(seq, t))
                if len(out) >= limit:
                    break
        return out

    async def audit(self, currency: str) -> list[Drift]:
        accounts = {k: a for k, a in self.accounts_by_id.items() if a.currency == currency}
        return check_ledger(accounts, self.transfers, self.pending, currency)
