"""The ledger on SQLite or PostgreSQL: set-based loads and writes inside the batch's transaction."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Row, or_, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from . import db
from .bulk import insert_rows, one_of, update_rows
from .invariants import Drift, check_escrow, check_supply
from .ledger import LedgerDelta, LedgerView
from .ledger_store import JournalEntry
from .ledger_types import (
    ESCROW,
    MINT_KINDS,
    Account,
    AccountFlags,
    Kind,
    Pending,
    PendingStatus,
    Transfer,
    TransferFlags,
    account_id,
)

A = db.ACCOUNTS
T = db.TRANSFERS
P = db.PENDING
CHUNK = 5000  # bound on the parameters of one IN list


class SqlLedgerStore:
    """A `LedgerStore` over one open transaction (`conn`); it never commits."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def load(
        self,
        account_ids: Collection[str],
        transfer_ids: Collection[str],
        pending_ids: Collection[str],
    ) -> LedgerView:
        view = LedgerView()
        # FOR UPDATE: a second writer (another replica by mistake) waits instead of racing.
        for rows in await self._chunks(select(A).with_for_update(), A.c.id, account_ids):
            for row in rows:
                view.accounts[row.id] = _account(row)
        for rows in await self._chunks(select(T), T.c.id, transfer_ids):
            for row in rows:
                view.transfers[row.id] = _transfer(row)
        for rows in await self._chunks(select(P), P.c.transfer_id, pending_ids):
            for row in rows:
                view.pending[row.transfer_id] = _pending(row)
        return view

    async def _chunks(self, query: Any, column: Any, keys: Collection[str]) -> list[Any]:
        if not keys:
            return []
        # Rows are locked in key order (the IN list is sorted), so writers never deadlock.
        return [(await self.conn.execute(query.where(one_of(self.conn, column, keys)))).all()]

    async def save(self, delta: LedgerDelta) -> None:
        """One statement per kind of change: new accounts, balances, journal, pendings."""
        created = [_account_row(a, delta.now) for a in delta.created_accounts.values()]
        await insert_rows(self.conn, A, created)
        await update_rows(self.conn, A, "id", [
            {"id": a.id, "debits_pending": a.debits_pending, "debits_posted": a.debits_posted,
             "credits_pending": a.credits_pending, "credits_posted": a.credits_posted}
            for a in delta.updated_accounts.values()
        ])  # fmt: skip
        await insert_rows(self.conn, T, [_transfer_row(t, delta.now) for t in delta.transfers])
        await self._save_pending(delta.pending.values(), delta.now)

    async def _save_pending(self, states: Iterable[Pending], now: datetime) -> None:
        fresh: list[Pending] = []
        changed: list[Pending] = []
        for p in states:
            (fresh if p.status is PendingStatus.PENDING else changed).append(p)
        await insert_rows(self.conn, P, [_pending_row(p, now) for p in fresh])
        await update_rows(self.conn, P, "transfer_id",
                          [{"transfer_id": p.transfer.id, "status": str(p.status)}
                           for p in changed])  # fmt: skip

    async def accounts(self, account_ids: Collection[str]) -> dict[str, Account]:
        out = {}
        for rows in await self._chunks(select(A), A.c.id, account_ids):
            for row in rows:
                out[row.id] = _account(row)
        return out

    async def expired_pending(self, now: datetime, limit: int) -> list[str]:
        query = (
            select(P.c.transfer_id)
            .where(P.c.status == str(PendingStatus.PENDING), P.c.expires_at <= now)
            .order_by(P.c.expires_at, P.c.transfer_id)
            .limit(limit)
        )
        return list((await self.conn.execute(query)).scalars())

    async def journal(
        self, account_id: str, limit: int, before_seq: int | None
    ) -> list[JournalEntry]:
        query = select(T).where(
            or_(T.c.debit_account_id == account_id, T.c.credit_account_id == account_id)
        )
        if before_seq is not None:
            query = query.where(T.c.seq < before_seq)
        rows = await self.conn.execute(query.order_by(T.c.seq.desc()).limit(limit))
        return [JournalEntry(row.seq, _transfer(row)) for row in rows]

    async def audit(self, currency: str) -> list[Drift]:
        """Every invariant of `invariants.py`, as set-based SQL over the whole book."""
        drifts = await self._double_entry(currency)
        drifts += await self._cache_drifts(currency)
        drifts += await self._negative(currency)
        minted = await self._scalar(
            select(text("coalesce(sum(amount), 0)")).select_from(T).where(
                T.c.kind.in_([str(k) for k in MINT_KINDS]),
                T.c.debit_account_id.like(f"{currency}:%"),
            )
        )  # fmt: skip
        accounts = await self._system_and_totals(currency)
        drifts += check_supply(accounts, minted, currency)
        held = await self._scalar(
            select(text("coalesce(sum(amount), 0)")).select_from(P).where(
                P.c.status == str(PendingStatus.PENDING),
                P.c.credit_account_id == account_id(ESCROW, currency),
            )
        )  # fmt: skip
        drifts += check_escrow(accounts.get(account_id(ESCROW, currency)), held)
        return drifts

    async def _scalar(self, query: Any) -> int:
        return int((await self.conn.execute(query)).scalar_one())

    async def _double_entry(self, currency: str) -> list[Drift]:
        row = (await self.conn.execute(text(
            "SELECT coalesce(sum(debits_pending), 0), coalesce(sum(debits_posted), 0),"
            " coalesce(sum(credits_pending), 0), coalesce(sum(credits_posted), 0)"
            " FROM ledger_accounts WHERE currency = :c"
        ), {"c": currency})).one()  # fmt: skip
        drifts = []
        if row[0] != row[2]:
            drifts.append(Drift("unbalanced", "pending", f"debits {row[0]} ≠ credits {row[2]}"))
        if row[1] != row[3]:
            drifts.append(Drift("unbalanced", "posted", f"debits {row[1]} ≠ credits {row[3]}"))
        return drifts

    async def _cache_drifts(self, currency: str) -> list[Drift]:
        rows = await self.conn.execute(text(_CACHE_DRIFT_SQL), _drift_params(currency))
        return [
            Drift("cache-drift", row.id, f"cached {tuple(row[1:5])} but journal says "
                  f"{tuple(row[5:9])}")
            for row in rows
        ]  # fmt: skip

    async def _negative(self, currency: str) -> list[Drift]:
        rows = await self.conn.execute(
            select(A.c.id, A.c.credits_posted - A.c.debits_posted - A.c.debits_pending).where(
                A.c.currency == currency,
                A.c.flags.op("&")(int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)) != 0,
                A.c.debits_posted + A.c.debits_pending > A.c.credits_posted,
            )
        )
        return [Drift("negative-balance", row[0], f"available {row[1]} < 0") for row in rows]

    async def _system_and_totals(self, currency: str) -> dict[str, Account]:
        """System accounts in full, plus one synthetic account carrying Σ member balances."""
        out = {}
        rows = await self.conn.execute(
            select(A).where(A.c.currency == currency, A.c.owner.like("@%"))
        )
        for row in rows:
            out[row.id] = _account(row)
        members = await self._scalar(
            select(text("coalesce(sum(credits_posted - debits_posted), 0)"))
            .select_from(A)
            .where(A.c.currency == currency, A.c.owner.not_like("@%"))
        )
        out["*members"] = Account("*members", "*members", currency, AccountFlags.NONE,
                                  credits_posted=members)  # fmt: skip
        return out


# Recompute each account's four totals from the journal and report those that differ.
_CACHE_DRIFT_SQL = """
WITH legs AS (
  SELECT t.debit_account_id AS acct,
         CASE WHEN t.flags = :pending AND p.status = :live THEN t.amount ELSE 0 END AS dp,
         CASE WHEN t.flags IN (:none, :post) THEN t.amount ELSE 0 END AS dpo,
         0 AS cp, 0 AS cpo
  FROM ledger_transfers t LEFT JOIN ledger_pending p ON p.transfer_id = t.id
  UNION ALL
  SELECT t.credit_account_id, 0, 0,
         CASE WHEN t.flags = :pending AND p.status = :live THEN t.amount ELSE 0 END,
         CASE WHEN t.flags IN (:none, :post) THEN t.amount ELSE 0 END
  FROM ledger_transfers t LEFT JOIN ledger_pending p ON p.transfer_id = t.id
), totals AS (
  SELECT acct, sum(dp) AS dp, sum(dpo) AS dpo, sum(cp) AS cp, sum(cpo) AS cpo
  FROM legs GROUP BY acct
)
SELECT a.id, a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted,
       coalesce(t.dp, 0), coalesce(t.dpo, 0), coalesce(t.cp, 0), coalesce(t.cpo, 0)
FROM ledger_accounts a LEFT JOIN totals t ON t.acct = a.id
WHERE a.currency = :c AND (
  a.debits_pending <> coalesce(t.dp, 0) OR a.debits_posted <> coalesce(t.dpo, 0)
  OR a.credits_pending <> coalesce(t.cp, 0) OR a.credits_posted <> coalesce(t.cpo, 0))
UNION ALL
SELECT t.acct, 0, 0, 0, 0, t.dp, t.dpo, t.cp, t.cpo
FROM totals t LEFT JOIN ledger_accounts a ON a.id = t.acct
WHERE a.id IS NULL AND t.acct LIKE :prefix
"""


def _drift_params(currency: str) -> dict[str, Any]:
    return {
        "c": currency, "prefix": f"{currency}:%", "live": str(PendingStatus.PENDING),
        "pending": int(TransferFlags.PENDING), "none": int(TransferFlags.NONE),
        "post": int(TransferFlags.POST_PENDING),
    }  # fmt: skip


def _account(row: Row[Any]) -> Account:
    return Account(
        row.id, row.owner, row.currency, AccountFlags(row.flags), row.debits_pending,
        row.debits_posted, row.credits_pending, row.credits_posted,
    )  # fmt: skip


def _account_row(a: Account, now: datetime) -> dict[str, Any]:
    return {
        "id": a.id, "owner": a.owner, "currency": a.currency, "flags": int(a.flags),
        "debits_pending": a.debits_pending, "debits_posted": a.debits_posted,
        "credits_pending": a.credits_pending, "credits_posted": a.credits_posted,
        "created_at": now,
    }  # fmt: skip


def _transfer(row: Row[Any]) -> Transfer:
    return Transfer(
        row.id, row.debit_account_id, row.credit_account_id, row.amount, Kind(row.kind),
        TransferFlags(row.flags), row.pending_id, row.timeout_s, row.reference, row.timestamp,
    )  # fmt: skip


def _transfer_row(t: Transfer, now: datetime) -> dict[str, Any]:
    return {
        "id": t.id, "debit_account_id": t.debit_account_id,
        "credit_account_id": t.credit_account_id, "amount": t.amount, "kind": str(t.kind),
        "flags": int(t.flags), "pending_id": t.pending_id, "timeout_s": t.timeout_s,
        "reference": t.reference, "timestamp": t.timestamp or now,
    }  # fmt: skip


def _pending(row: Row[Any]) -> Pending:
    transfer = Transfer(
        row.transfer_id, row.debit_account_id, row.credit_account_id, row.amount,
        Kind(row.kind), TransferFlags.PENDING, None, row.timeout_s, row.reference, row.timestamp,
    )  # fmt: skip
    return Pending(transfer, PendingStatus(row.status), row.expires_at)


def _pending_row(p: Pending, now: datetime) -> dict[str, Any]:
    t = p.transfer
    return {
        "transfer_id": t.id, "debit_account_id": t.debit_account_id,
        "credit_account_id": t.credit_account_id, "amount": t.amount, "kind": str(t.kind),
        "timeout_s": t.timeout_s, "reference": t.reference, "timestamp": t.timestamp or now,
        "status": str(p.status), "expires_at": p.expires_at,
    }  # fmt: skip
