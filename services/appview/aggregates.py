"""modelActivity and latency: sums over the activity buckets and the newest receipts per group.

Activity windows add up per-minute (hour, day) or per-hour (week, month) buckets kept at
ingest, so the cost depends on the number of buckets, not of receipts; a window is therefore
aligned to its bucket size. Latency takes the 100 most recently indexed receipts of each
group through the (repo|model, id) indexes: indexing order, not the provider-asserted
`completedAt`, so a provider cannot keep old numbers in view by back- or forward-dating.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select

from cocore.storage import Database
from cocore.syntax import format_datetime

from .cursors import decode_cursor, encode_cursor
from .db import activity, receipts
from .rollup import bucket_start

WINDOWS: dict[str, tuple[str, timedelta]] = {
    "hour": ("m", timedelta(hours=1)),
    "day": ("m", timedelta(days=1)),
    "week": ("h", timedelta(days=7)),
    "month": ("h", timedelta(days=30)),
}
LATENCY_SAMPLES = 100
Stats = dict[str, dict[str, int]]


class Aggregates:
    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self._clock = clock

    async def model_activity(self, p: dict[str, Any]) -> dict[str, Any]:
        now = self._clock()
        totals: dict[str, Stats] = defaultdict(_empty_windows)
        by_provider: dict[str, dict[str, Stats]] = defaultdict(lambda: defaultdict(_empty_windows))
        after = decode_cursor(p["cursor"], str)[0] if p["cursor"] else None
        for window, (granularity, span) in WINDOWS.items():
            for model, provider, requests, tokens in await self._window(
                granularity, now, span, after
            ):
                for stats in (totals[model], by_provider[model][provider]):
                    stats[window]["requests"] += int(requests)
                    stats[window]["tokens"] += int(tokens)
        names = sorted(totals)[: p["limit"] + 1]
        models = [
            {
                "modelId": m,
                "totals": totals[m],
                "byProvider": [{"did": d, "stats": s} for d, s in sorted(by_provider[m].items())],
            }
            for m in names[: p["limit"]]
        ]
        out: dict[str, Any] = {"generatedAt": format_datetime(now), "models": models}
        if len(names) > p["limit"]:
            out["cursor"] = encode_cursor(names[p["limit"] - 1])
        return out

    async def _window(
        self, granularity: str, now: datetime, span: timedelta, after: str | None
    ) -> list[Any]:
        start = bucket_start(granularity, now - span)
        a = activity.c
        query = (
            select(a.model, a.provider, func.sum(a.requests), func.sum(a.tokens))
            .where(a.granularity == granularity, a.bucket >= start, a.bucket <= now)
            .group_by(a.model, a.provider)
        )
        if after is not None:
            query = query.where(a.model > after)
        async with self.db.session() as s:
            return list((await s.execute(query)).all())

    async def latency(self, p: dict[str, Any]) -> dict[str, Any]:
        now = self._clock()
        after = decode_cursor(p["cursor"], str)[0] if p["cursor"] else None
        providers, models = await self._active_groups(now, after, p["limit"])
        r = receipts.c
        out: dict[str, Any] = {
            "generatedAt": format_datetime(now),
            "overall": await self.latency_stats(None),
            # Objects keyed by DID / model: the lexicon types these `unknown`, which is an object.
            "byProvider": {
                d: await self.latency_stats(r.repo == d) for d in providers[: p["limit"]]
            },
            "byModel": {m: await self.latency_stats(r.model == m) for m in models},
        }
        if len(providers) > p["limit"]:
            out["cursor"] = encode_cursor(providers[p["limit"] - 1])
        return out

    async def _active_groups(
        self, now: datetime, after: str | None, limit: int
    ) -> tuple[list[str], list[str]]:
        """Providers (a page, by DID) and models with receipts completed in the last 30 days."""
        a = activity.c
        recent = (a.granularity == "h", a.bucket >= now - WINDOWS["month"][1])
        providers = select(a.provider).where(*recent).group_by(a.provider).order_by(a.provider)
        if after is not None:
            providers = providers.where(a.provider > after)
        models = select(a.model).where(*recent).group_by(a.model).order_by(a.model).limit(200)
        async with self.db.session() as s:
            found = list((await s.execute(providers.limit(limit + 1))).scalars())
            return found, list((await s.execute(models)).scalars())

    async def latency_stats(self, where: ColumnElement[bool] | None) -> dict[str, int]:
        r = receipts.c
        query = select(r.latency_ms).where(r.latency_ms.is_not(None))
        if where is not None:
            query = query.where(where)
        query = query.order_by(r.id.desc()).limit(LATENCY_SAMPLES)
        async with self.db.session() as s:
            samples = [int(v) for v in (await s.execute(query)).scalars()]
        return latency_summary(samples)


def latency_summary(newest_first: list[int]) -> dict[str, int]:
    """sampleCount, p50/p95 (nearest rank), avg and last (newest) in milliseconds."""
    if not newest_first:
        return {"sampleCount": 0}
    ordered = sorted(newest_first)
    n = len(ordered)
    return {
        "sampleCount": n,
        "p50Ms": _nearest_rank(ordered, 50),
        "p95Ms": _nearest_rank(ordered, 95),
        "avgMs": sum(ordered) // n,
        "lastMs": newest_first[0],
    }


def _nearest_rank(ordered: list[int], pct: int) -> int:
    rank = max(1, -(-pct * len(ordered) // 100))  # ceil(pct/100 · n)
    return ordered[rank - 1]


def _empty_windows() -> Stats:
    return {w: {"requests": 0, "tokens": 0} for w in WINDOWS}
