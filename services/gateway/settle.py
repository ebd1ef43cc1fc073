"""The fast path to settlement, off the response path: find the receipt, hand it over.

The job and authorization records must be durably queued before anything settles (the
request path does not wait for that write; the settler does). The provider publishes its
receipt once the answer was delivered; the settler takes it from the AppView's record feed
(`receipt_feed.py`), or from the provider's PDS when there is no feed or it stays silent
(`receipts.py` shares one poller per provider repo) — CID-checked against the strongRef the
completion carried either way — and calls the exchange's Settle with the job and
authorization it already holds, capturing the hold. If no receipt comes, or the exchange
refuses it, the hold is released: the requester pays nothing unless a verified receipt
settles (the exchange's own receipt sources still catch a late one).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from cocore.errors import CocoreError

from . import events
from .exchange_client import ExchangeClient, Settled
from .receipt_feed import ReceiptFeed
from .receipts import ReceiptWatch
from .records import JobRecords, Placed
from .repos import RepoReader

log = logging.getLogger("cocore.gateway")
SETTLE_TRIES = 4
FEED_FIRST_S = 10.0  # how long the feed has before the provider's PDS is asked as well


@dataclass(frozen=True, slots=True)
class SettleJob:
    records: JobRecords
    hold_id: str
    receipt_uri: str
    receipt_cid: str
    recorded: asyncio.Future[None] | None = None  # the job records' outbox write


class Settler:
    def __init__(
        self, exchange: ExchangeClient, repos: RepoReader, *, receipt_wait_s: float,
        feed: ReceiptFeed | None = None,
    ) -> None:  # fmt: skip
        self.exchange = exchange
        self.receipts = ReceiptWatch(repos)
        self.feed = feed
        self.receipt_wait_s = receipt_wait_s
        self._tasks: set[asyncio.Task[Settled | None]] = set()

    def submit(self, job: SettleJob) -> asyncio.Task[Settled | None]:
        task = asyncio.create_task(self._run(job), name=f"settle {job.receipt_uri}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self, timeout_s: float) -> None:
        """Let running settlements finish (shutdown); cancel what is left after the timeout."""
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=timeout_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self.receipts.aclose()

    async def _run(self, job: SettleJob) -> Settled | None:
        if not await _recorded(job):
            # The settlement would point at a job and authorization that may never reach
            # the requester's repo: charge nothing rather than publish an unverifiable one.
            events.settled("no_records")
            await self.exchange.release(job.hold_id)
            return None
        receipt = await self._receipt(job)
        if receipt is None:
            events.settled("no_receipt")
            await self.exchange.release(job.hold_id)
            return None
        outcome = await self._settle(job, receipt)
        if outcome is None or not outcome.settled:
            events.settled("refused", outcome.codes if outcome else ())
            await self.exchange.release(job.hold_id)
            return outcome
        events.settled("settled")
        return outcome

    async def _settle(self, job: SettleJob, receipt: Placed) -> Settled | None:
        outcome: Settled | None = None
        for attempt in range(SETTLE_TRIES):
            try:
                outcome = await self.exchange.settle(
                    receipt, job.records.job, job.records.authorization, job.hold_id
                )
            except CocoreError as e:
                log.warning("settle_call_failed code=%s", e.code)
                outcome = None
            if outcome is not None and (outcome.settled or not outcome.retryable):
                return outcome
            await asyncio.sleep(0.2 * 2**attempt)
        return outcome

    async def _receipt(self, job: SettleJob) -> Placed | None:
        uri, cid, wait_s = job.receipt_uri, job.receipt_cid, self.receipt_wait_s
        if self.feed is not None:
            started = time.perf_counter()
            found = await self.feed.wait(uri, cid, min(FEED_FIRST_S, wait_s))
            if found is not None:
                events.stage("receipt_wait", time.perf_counter() - started)
                events.receipt_found("feed")
                return found
            events.receipt_feed_missed()
            wait_s -= FEED_FIRST_S
            if wait_s <= 0:
                return None
        found = await self.receipts.wait(uri, cid, wait_s)
        if found is not None:
            events.receipt_found("pds")
        return found


async def _recorded(job: SettleJob) -> bool:
    """The job and authorization are durably queued for the requester's PDS."""
    if job.recorded is None:
        return True
    try:
        await asyncio.shield(job.recorded)
    except CocoreError:
        return False
    return True
