"""Timed work: void expired holds, reconcile, and retry receipts refused for a passing reason."""

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
from .receipts import ReceiptEvent, settle_one

RETRY_BATCH = 100
MAX_ATTEMPTS = 20


async def every(interval_s: float, name: str, work: Callable[[], Awaitable[object]]) -> None:
    """Run `work` every `interval_s` seconds until cancelled; an error waits for the next turn."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await work()
        except CocoreError as e:
            events.source_error(name, e.code)


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
