"""Patronage: a period's share of the treasury returned to the members who used the co-op.

Scores come from settled receipts whose `completedAt` falls in [start, end), net of refunds:
a requester scores what it paid, a provider what it earned; a self-loop counts once; the
treasury scores nothing. Each member gets `floor(treasuryBefore·fractionBps·score /
(10000·totalScore))` (the tokenPatronage lexicon's formula) and the dust stays in the
treasury. A period distributes once; one overlapping another is refused.

The automatic schedule (`due_periods`): periods of the policy's `cadenceDays`, their ends on
multiples of it counted from the Unix epoch (UTC), each distributed once it has been over
for a grace time (late receipts settle in it first). They tile: the next starts where the
latest distributed period (automatic or manual) ended, the very first at the boundary
before the first settlement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from cocore.storage import UtcDateTime

from . import db, events
from .formulas import patronage_shares
from .ledger_types import Kind, Result, Transfer
from .records import out_record, patronage_record, when
from .state import Batch, Keys
from .writer import Tx

PERIODS = db.PERIODS
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Per-DID scores over one period, net of refunds, with self-loops counted once.
_SCORES_SQL = """
WITH period AS (
  SELECT s.uri, s.requester, s.provider, s.amount - s.refunded_amount AS paid,
         s.payout - coalesce((SELECT sum(r.payout) FROM settlements r
                              WHERE r.refund_of = s.uri AND r.status = 'refunded'), 0) AS earned
  FROM settlements s
  WHERE s.status = 'settled' AND s.completed_at >= :start AND s.completed_at < :end
)
SELECT requester AS did, sum(paid) AS score FROM period WHERE requester <> provider
  GROUP BY requester
UNION ALL
SELECT provider, sum(earned) FROM period WHERE requester <> provider GROUP BY provider
UNION ALL
SELECT requester, sum(paid) FROM period WHERE requester = provider GROUP BY requester
"""


@dataclass(frozen=True, slots=True)
class Distribution:
    start: datetime
    end: datetime
    treasury_before: int
    total_score: int
    distributed: int
    credits: dict[str, int]
    scores: dict[str, int]
    already_distributed: bool


@dataclass(frozen=True, slots=True)
class Overlap:
    start: datetime
    end: datetime


@dataclass
class PatronageCommand:
    start: datetime
    end: datetime
    exclusive: bool = True
    _scores: dict[str, int] = field(default_factory=dict)
    _existing: Any = None
    _overlap: Any = None

    def keys(self) -> Keys:
        return Keys(dids=set(self._scores))

    async def prepare(self, tx: Tx) -> None:
        overlapping = and_(PERIODS.c.start < self.end, self.start < PERIODS.c.end)
        exact = and_(PERIODS.c.start == self.start, PERIODS.c.end == self.end)
        rows = (await tx.conn.execute(select(PERIODS).where(or_(overlapping, exact)))).all()
        self._existing = next((r for r in rows if (r.start, r.end) == (self.start, self.end)), None)
        self._overlap = next((r for r in rows if r is not self._existing), None)
        if self._existing is not None or self._overlap is not None:
            return
        query = text(_SCORES_SQL).bindparams(
            bindparam("start", self.start, type_=UtcDateTime()),
            bindparam("end", self.end, type_=UtcDateTime()),
        )
        for did, score in (await tx.conn.execute(query)).all():
            self._scores[did] = self._scores.get(did, 0) + int(score)

    def apply(self, batch: Batch) -> Distribution | Overlap:
        if self._existing is not None:
            r = self._existing
            return Distribution(r.start, r.end, r.treasury_before, r.total_score, r.distributed,
                                {}, {}, True)  # fmt: skip
        if self._overlap is not None:
            return Overlap(self._overlap.start, self._overlap.end)
        context = batch.context
        scores = {d: s for d, s in self._scores.items() if d != context.treasury and s > 0}
        treasury = batch.ledger.view.accounts[context.account(context.treasury)]
        before = treasury.available
        terms = context.policy.terms
        credits = patronage_shares(scores, before, terms.patronage_fraction_bps)
        self._transfer(batch, credits)
        total = sum(scores.values())
        for did, credit in credits.items():
            record = patronage_record(
                exchange=context.exchange, recipient=did, period=(self.start, self.end),
                score=scores[did], total=total, credited=credit, treasury_before=before,
                policy=context.policy.ref, created_at=batch.now,
            )  # fmt: skip
            batch.outbox.append(out_record(context.exchange, record["$type"], batch.tid(), record))
        distributed = sum(credits.values())
        batch.inserts.append((PERIODS, {
            "start": self.start, "end": self.end, "treasury_before": before,
            "total_score": total, "distributed": distributed, "recipients": len(credits),
            "policy_uri": context.policy.ref.uri, "created_at": batch.now,
        }))  # fmt: skip
        events.patronage_distributed(len(credits), distributed, before)
        return Distribution(self.start, self.end, before, total, distributed, credits, scores,
                            False)  # fmt: skip

    def _transfer(self, batch: Batch, credits: dict[str, int]) -> None:
        context = batch.context
        period = f"{when(self.start)}/{when(self.end)}"
        chain = [
            Transfer(f"patronage:{period}:{did}", context.account(context.treasury),
                     context.account(did), credit, Kind.PATRONAGE, reference=period)
            for did, credit in credits.items()
        ]  # fmt: skip
        if chain:
            results = batch.ledger.create_transfers(chain)
            assert all(r is Result.OK for r in results), f"patronage failed: {results}"


# ------------------------------------------------------------------------- the schedule


def due_periods(
    *,
    cadence_days: int,
    over_by: datetime,
    last_end: datetime | None,
    first_activity: datetime | None,
    limit: int,
) -> list[tuple[datetime, datetime]]:
    """The periods to distribute now, oldest first (at most `limit`): consecutive, each ending
    on a `cadence_days` boundary no later than `over_by` (now minus the grace). The first
    starts at `last_end`, the end of the latest distributed period; with none yet, at the
    boundary at or before `first_activity`; with neither there is nothing to distribute."""
    if cadence_days < 1:
        raise ValueError("cadence_days must be ≥ 1")
    cadence = timedelta(days=cadence_days)
    if last_end is not None:
        start = last_end
    elif first_activity is not None:
        start = EPOCH + cadence * ((first_activity - EPOCH) // cadence)
    else:
        return []
    periods: list[tuple[datetime, datetime]] = []
    while len(periods) < limit:
        end = EPOCH + cadence * ((start - EPOCH) // cadence + 1)
        if end > over_by:
            break
        periods.append((start, end))
        start = end
    return periods


async def schedule_bounds(session: AsyncSession) -> tuple[datetime | None, datetime | None]:
    """(end of the latest distributed period, completion of the first settled receipt)."""
    settlements = db.SETTLEMENTS
    last_end = select(func.max(PERIODS.c.end, type_=UtcDateTime()))
    first = select(func.min(settlements.c.completed_at, type_=UtcDateTime())).where(
        settlements.c.status == "settled"
    )
    return (await session.scalar(last_end)), (await session.scalar(first))
