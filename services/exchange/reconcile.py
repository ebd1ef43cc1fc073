"""Reconcile: prove journal ↔ balances ↔ settlements ↔ outbox agree, and report any drift.

It runs as an exclusive writer command, so it reads one consistent state with no write in
between, and production runs it on a timer as well as on an operator's request. Every check
is set-based SQL. A deep reconcile also lists the exchange's repo on its PDS and compares
the settlement records there with the ones the outbox says it published.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, text

from . import db, events
from .invariants import Drift
from .ledger_types import PendingStatus
from .state import Batch, Keys
from .writer import Tx

# (code, what the drift concerns, query returning the offending rows' identifiers)
_DOMAIN_CHECKS: tuple[tuple[str, str, str], ...] = (
    (
        "settlement-without-transfers",
        "a settled receipt whose transfers are missing or wrong",
        """
      SELECT s.uri FROM settlements s
      LEFT JOIN ledger_transfers c ON c.id = s.transfer_id
      LEFT JOIN ledger_transfers p ON p.id = 'payout:' || s.receipt_uri
      LEFT JOIN ledger_transfers f ON f.id = 'fee:' || s.receipt_uri
      WHERE s.status = 'settled' AND s.amount > 0 AND (
        c.id IS NULL OR c.amount <> s.amount
        OR (s.payout > 0 AND (p.id IS NULL OR p.amount <> s.payout))
        OR (s.fee > 0 AND (f.id IS NULL OR f.amount <> s.fee)))""",
    ),
    (
        "capture-without-settlement",
        "a captured charge no settlement accounts for",
        """
      SELECT t.id FROM ledger_transfers t
      LEFT JOIN settlements s ON s.transfer_id = t.id AND s.status = 'settled'
      WHERE t.kind = 'capture' AND s.uri IS NULL""",
    ),
    (
        "settlement-not-in-outbox",
        "a settlement whose signed record is not in the outbox",
        """
      SELECT s.uri FROM settlements s
      LEFT JOIN outbox o ON o.uri = s.uri AND o.cid = s.cid
      WHERE o.seq IS NULL""",
    ),
    (
        "outbox-without-settlement",
        "a settlement record in the outbox with no ledger row",
        """
      SELECT o.uri FROM outbox o LEFT JOIN settlements s ON s.uri = o.uri
      WHERE o.collection = :settlement AND s.uri IS NULL""",
    ),
    (
        "outbox-cid-mismatch",
        "the PDS stored a record under another CID than computed",
        """
      SELECT o.uri FROM outbox o
      WHERE o.state = 'published' AND o.published_cid <> o.cid""",
    ),
    (
        "member-without-grant",
        "a member whose grant is missing from the journal",
        """
      SELECT m.did FROM members m LEFT JOIN ledger_transfers t ON t.id = 'grant:' || m.did
      WHERE m.grant_amount > 0 AND (t.id IS NULL OR t.amount <> m.grant_amount)""",
    ),
    (
        "grant-without-member",
        "a grant in the journal for no member",
        """
      SELECT t.id FROM ledger_transfers t
      LEFT JOIN members m ON 'grant:' || m.did = t.id
      WHERE t.kind = 'grant' AND m.did IS NULL""",
    ),
    (
        "treasury-granted",
        "the treasury received a grant",
        """
      SELECT m.did FROM members m WHERE m.did = :treasury""",
    ),
    (
        "grant-records-drift",
        "grants and tokenGrant records differ in number",
        """
      SELECT 'members vs tokenGrant records' WHERE
        (SELECT count(*) FROM members WHERE grant_amount > 0)
        <> (SELECT count(*) FROM outbox WHERE collection = :grant)""",
    ),
    (
        "authorization-charge-drift",
        "an authorization's charged total differs from its receipts",
        """
      SELECT a.key FROM authorizations a LEFT JOIN (
        SELECT auth_key, sum(amount) AS total FROM settlements
        WHERE status = 'settled' GROUP BY auth_key) x ON x.auth_key = a.key
      WHERE a.charged <> coalesce(x.total, 0)""",
    ),
    (
        "refund-drift",
        "a settlement's refunded total differs from its refunds",
        """
      SELECT s.uri FROM settlements s LEFT JOIN (
        SELECT refund_of, sum(amount) AS total FROM settlements
        WHERE status = 'refunded' GROUP BY refund_of) r ON r.refund_of = s.uri
      WHERE s.status = 'settled' AND s.refunded_amount <> coalesce(r.total, 0)""",
    ),
)
MAX_SUBJECTS = 20  # per check: enough to act on, bounded however bad things are


@dataclass(frozen=True, slots=True)
class Report:
    ok: bool
    drifts: tuple[Drift, ...]
    stats: dict[str, int]
    checked_at: datetime
    oldest_pending_outbox: datetime | None


@dataclass
class ReconcileCommand:
    currency: str
    treasury: str
    params: dict[str, str]
    exclusive: bool = True
    _drifts: list[Drift] = field(default_factory=list)
    _stats: dict[str, int] = field(default_factory=dict)
    _oldest: datetime | None = None

    def keys(self) -> Keys:
        return Keys()

    async def prepare(self, tx: Tx) -> None:
        self._drifts = await tx.ledger.audit(self.currency)
        params = {**self.params, "treasury": self.treasury}
        for code, what, sql in _DOMAIN_CHECKS:
            rows = (await tx.conn.execute(text(sql + f" LIMIT {MAX_SUBJECTS}"), params)).all()
            self._drifts += [Drift(code, str(row[0]), what) for row in rows]
        self._stats = await _stats(tx)
        oldest = await tx.conn.execute(
            text("SELECT min(created_at) FROM outbox WHERE state = 'pending'")
        )
        value = oldest.scalar()
        self._oldest = value if isinstance(value, datetime) or value is None else None

    def apply(self, batch: Batch) -> Report:
        for drift in self._drifts:
            events.drift(drift.code, drift.subject)
        return Report(not self._drifts, tuple(self._drifts), self._stats, batch.now,
                      self._oldest)  # fmt: skip


async def _stats(tx: Tx) -> dict[str, Any]:
    counts = {
        "accounts": "SELECT count(*) FROM ledger_accounts",
        "transfers": "SELECT count(*) FROM ledger_transfers",
        "settlements": "SELECT count(*) FROM settlements WHERE status = 'settled'",
        "refunds": "SELECT count(*) FROM settlements WHERE status = 'refunded'",
        "members": "SELECT count(*) FROM members",
        "unsettled": "SELECT count(*) FROM rejections",
        "outbox_pending": "SELECT count(*) FROM outbox WHERE state = 'pending'",
        "holds_pending": "SELECT count(*) FROM ledger_pending WHERE status = 'pending'",
    }
    assert str(PendingStatus.PENDING) == "pending"
    return {
        name: int((await tx.conn.execute(text(sql))).scalar_one()) for name, sql in counts.items()
    }


async def deep_drifts(
    database: Any, client: Any, exchange: str, collection: str, limit: int = 100_000
) -> list[Drift]:
    """Compare the settlement records on the exchange's PDS with what the outbox published.

    Every record there must be one the exchange issued (same CID), and every settlement the
    outbox marked published must be there; records still pending in the outbox are not drift.
    """
    outbox = db.OUTBOX
    query = select(outbox.c.uri, outbox.c.cid, outbox.c.state).where(
        outbox.c.collection == collection
    )
    async with database.session() as session:
        rows = (await session.execute(query)).all()
    latest = {uri: (cid, state) for uri, cid, state in rows}
    seen: dict[str, str] = {}
    async for view in client.iter_records(exchange, collection):
        seen[str(view.uri)] = str(view.cid)
        if len(seen) >= limit:
            break
    drifts = [
        Drift("pds-record-unknown", uri, "a settlement on the PDS the exchange never issued")
        for uri, cid in seen.items()
        if uri not in latest or latest[uri][0] != cid
    ]
    drifts += [
        Drift("published-record-missing", uri, "marked published but not on the PDS")
        for uri, (_, state) in latest.items()
        if state == "published" and uri not in seen
    ]
    return drifts[:MAX_SUBJECTS]
