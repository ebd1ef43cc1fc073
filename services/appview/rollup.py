"""Running totals kept beside the rows: receipt activity buckets and per-repo record counts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from cocore.lexicon import ids
from cocore.syntax import Nsid

from .db import activity, repos

# granularity → how a completion time is floored to its bucket
GRANULARITIES: dict[str, Any] = {
    "m": lambda t: t.replace(second=0, microsecond=0),
    "h": lambda t: t.replace(minute=0, second=0, microsecond=0),
}
_COUNTED: dict[Nsid, str] = {
    ids.COMPUTE_JOB: "job_count",
    ids.COMPUTE_RECEIPT: "receipt_count",
    ids.COMPUTE_PROVIDER: "provider_count",
}
ROLLUP_COLUMNS = ("model", "completed_at", "tokens_in", "tokens_out")


class Deltas:
    """Accumulates what one transaction adds to or removes from the totals."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.activity: dict[tuple[str, datetime, str, str], list[int]] = defaultdict(lambda: [0, 0])
        self.counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.active_repos: set[str] = set()

    def change(
        self,
        collection: Nsid,
        repo: str,
        old: Mapping[str, Any] | None,
        new: Mapping[str, Any] | None,
    ) -> None:
        """A row went from `old` columns to `new` columns (None: absent)."""
        self.active_repos.add(repo)
        counter = _COUNTED.get(collection)
        if counter is not None and (old is None) != (new is None):
            self.counts[repo][counter] += 1 if new is not None else -1
        if collection == ids.COMPUTE_RECEIPT:
            if old is not None:
                self._receipt(repo, old, -1)
            if new is not None:
                self._receipt(repo, new, +1)

    def _receipt(self, repo: str, columns: Mapping[str, Any], sign: int) -> None:
        completed, model = columns.get("completed_at"), columns.get("model")
        if completed is None or model is None:
            return
        tokens = (columns.get("tokens_in") or 0) + (columns.get("tokens_out") or 0)
        for granularity, floor in GRANULARITIES.items():
            slot = self.activity[(granularity, floor(completed), model, repo)]
            slot[0] += sign
            slot[1] += sign * tokens

    async def flush(self, session: AsyncSession, now: datetime) -> None:
        await self._flush_activity(session)
        rows = []
        for did in self.active_repos:
            counts = self.counts.get(did, {})
            rows.append({"b_did": did, "b_now": now, **{f"d_{c}": counts.get(c, 0) for c in _ALL}})
        if rows:
            stmt = (
                update(repos)
                .where(repos.c.did == bindparam("b_did"))
                .values(
                    last_activity_at=bindparam("b_now"),
                    **{c: repos.c[c] + bindparam(f"d_{c}") for c in _ALL},
                )
            )
            await session.execute(stmt, rows)
        self.reset()

    async def _flush_activity(self, session: AsyncSession) -> None:
        rows = [
            {"granularity": g, "bucket": b, "model": m, "provider": p, "requests": r, "tokens": t}
            for (g, b, m, p), (r, t) in self.activity.items()
            if r or t
        ]
        if not rows:
            return
        postgres = session.get_bind().dialect.name == "postgresql"
        stmt = (postgresql.insert if postgres else sqlite.insert)(activity)
        stmt = stmt.on_conflict_do_update(
            index_elements=["granularity", "bucket", "model", "provider"],
            set_={
                "requests": activity.c.requests + stmt.excluded.requests,
                "tokens": activity.c.tokens + stmt.excluded.tokens,
            },
        )
        await session.execute(stmt, rows)


_ALL = tuple(_COUNTED.values())
