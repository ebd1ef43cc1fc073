"""Timed work: void expired holds, reconcile, retry receipts refused for a passing reason,
and distribute the patronage periods that are due."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy import select

from cocore.errors import CocoreError
from cocore.lexicon import ids
from cocore.syntax import parse_at_uri

from . import db, events
from .exchange import Exchange
from .holds import ExpireCommand
from .patronage import Distribution, due_periods, schedule_bounds
from .receipts import ReceiptEvent, settle_one

RETRY_BATCH = 100
MAX_ATTEMPTS = 20
PATRONAGE_BATCH = 12  # periods per turn (catching up after a long outage takes a few turns)


async def every(
    interval_s: float, name: str, work: Callable[[], Awaitable[object]], *, at_start: bool = False
) -> None:
    """Run `work` every `interval_s` seconds (first at once if `at_start`) until cancelled; an
    error waits for the next turn."""
    if not at_start:
        await asyncio.sleep(interval_s)
    while True:
        try:
            await work()
        except CocoreError as e:
            events.source_error(name, e.code)
        await asyncio.sleep(interval_s)


async def supervise(name: str, run: Callable[[], Awaitable[object]], pause_s: float = 5.0) -> None:
    """Keep a long-running loop (a receipt source) alive: restart it after an error."""
    while True:
        try:
            await run()
        except CocoreError as e:
            events.source_error(name, e.code)
        await asyncio.sleep(pause_s)


async def expire_holds(exchange: Exchange) -> int:
    expired: int = await exchange.writer.submit(ExpireCommand())
    return expired


async def retry_unsettled(exchange: Exchange, min_age: timedelta = timedelta(minutes=1)) -> int:
    """Re-drive receipts refused for a reason that may pass (a low balance, a PDS outage)."""
    if exchange.fetcher is None:
        return 0
    table = db.REJECTIONS
    cutoff = exchange.clock() - min_age
    query = (
        select(table)
        .where(table.c.retryable.is_(True), table.c.attempts < MAX_ATTEMPTS,
               table.c.last_seen <= cutoff)
        .order_by(table.c.last_seen)
        .limit(RETRY_BATCH)
    )  # fmt: skip
    async with exchange.db.session() as session:
        rows = (await session.execute(query)).all()
    for row in rows:
        ref = {"uri": row.receipt_uri, "cid": row.receipt_cid}
        try:
            record = await exchange.fetcher.fetch(ref, ids.COMPUTE_RECEIPT)
        except CocoreError as e:
            events.source_error("retry", e.code)
            continue
        event = ReceiptEvent(parse_at_uri(row.receipt_uri), row.receipt_cid, record)
        await settle_one(exchange, event, "retry")
    return len(rows)


async def distribute_due_patronage(
    exchange: Exchange, grace: timedelta, limit: int = PATRONAGE_BATCH
) -> list[Distribution]:
    """Distribute, oldest first, the periods the schedule owes (`patronage.due_periods`) under
    the active policy's cadence; nothing while its patronage fraction is 0."""
    terms = exchange.policies.current.terms
    if terms.patronage_fraction_bps == 0:
        return []
    async with exchange.db.session() as session:
        last_end, first_activity = await schedule_bounds(session)
    periods = due_periods(
        cadence_days=terms.patronage_cadence_days, over_by=exchange.clock() - grace,
        last_end=last_end, first_activity=first_activity, limit=limit,
    )  # fmt: skip
    return [await exchange.distribute_patronage(start, end) for start, end in periods]
