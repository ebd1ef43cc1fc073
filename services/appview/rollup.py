"""Running totals kept beside the rows: receipt activity buckets and per-repo record counts."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cocore.lexicon import ids
from cocore.syntax import Nsid

from .bulk import Sql, add_sql, marks

# granularity → its bucket in seconds: UTC minutes and hours, whatever offset a record's time
# was written with (the row keeps it in UTC, and a delete subtracts from the bucket of the
# stored value). Floored in whole seconds since the epoch: five times cheaper per receipt
# than datetime.replace.
BUCKET_S: dict[str, int] = {"m": 60, "h": 3600}


def bucket_start(granularity: str, moment: datetime) -> datetime:
    """The start of the bucket `moment` falls in, in UTC."""
    return datetime.fromtimestamp(_floor(granularity, math.floor(moment.timestamp())), UTC)


def _floor(granularity: str, epoch_s: int) -> int:
    return epoch_s - epoch_s % BUCKET_S[granularity]


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
        # (granularity, bucket start in epoch seconds, model, provider) → [requests, tokens]
        self.activity: dict[tuple[str, int, str, str], list[int]] = defaultdict(lambda: [0, 0])
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
        epoch_s = math.floor(completed.timestamp())
        for granularity in BUCKET_S:
            slot = self.activity[(granularity, _floor(granularity, epoch_s), model, repo)]
            slot[0] += sign
            slot[1] += sign * tokens

    async def flush(self, sql: Sql, now: datetime) -> None:
        await self._flush_activity(sql)
        # (Writers are serialised on feed_head, so no lock order is needed between them.)
        at, counts = sql.time(now), self.counts
        rows = (
            (at, *(counts[did].get(c, 0) if did in counts else 0 for c in _ALL), did)
            for did in self.active_repos
        )
        await sql.many(_repos_sql(sql.sqlite), rows)
        self.reset()

    async def _flush_activity(self, sql: Sql) -> None:
        to_time = sql.time
        rows = (
            (g, to_time(datetime.fromtimestamp(b, UTC)), m, p, r, t)
            for (g, b, m, p), (r, t) in self.activity.items()
            if r or t
        )
        await sql.insert(add_sql(sql.sqlite, "activity", _ACTIVITY, _ACTIVITY[:4]), rows)


def _repos_sql(sqlite: bool) -> str:
    m = marks(sqlite, len(_ALL) + 2)
    adds = ", ".join(f"{c} = {c} + {m[i]}" for i, c in enumerate(_ALL, start=1))
    return f"UPDATE repos SET last_activity_at = {m[0]}, {adds} WHERE did = {m[-1]}"  # noqa: S608


_ACTIVITY = ("granularity", "bucket", "model", "provider", "requests", "tokens")
_ALL = tuple(_COUNTED.values())
