"""The fast path to settlement, off the response path: find the receipt, hand it over.

The provider publishes its receipt once the answer was delivered; the settler reads it from
the provider's PDS (CID-checked against the strongRef the completion carried) and calls the
exchange's Settle with the job and authorization it already holds, capturing the hold. If no
receipt comes, or the exchange refuses it, the hold is released: the requester pays nothing
unless a verified receipt settles (the exchange's firehose path still catches a late one).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from cocore.atproto import AtprotoError
from cocore.errors import CocoreError
from cocore.syntax import parse_at_uri, record_cid

from . import events
from .exchange_client import ExchangeClient, Settled
from .records import JobRecords, Placed
from .repos import RepoReader

log = logging.getLogger("cocore.gateway")
SETTLE_TRIES = 4


@dataclass(frozen=True, slots=True)
class SettleJob:
    records: JobRecords
    hold_id: str
    receipt_uri: str
    receipt_cid: str


class Settler:
    def __init__(
        self, exchange: ExchangeClient, repos: RepoReader, *, receipt_wait_s: float
    ) -> None:
        self.exchange = exchange
        self.repos = repos
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

    async def _run(self, job: SettleJob) -> Settled | None:
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
        uri = parse_at_uri(job.receipt_uri)
        deadline = time.monotonic() + self.receipt_wait_s
        delay = 0.02
        while True:
            try:
                client = await self.repos.client(str(uri.repo))
                view = await client.get_record(uri.repo, uri.collection, uri.rkey)
            except (AtprotoError, CocoreError):
                view = None
            if view is not None:
                if (
                    str(view.cid) != job.receipt_cid
                    or str(record_cid(view.value)) != job.receipt_cid
                ):
                    log.warning("receipt_cid_mismatch uri=%s", job.receipt_uri)
                    return None
                return Placed(uri.collection, str(uri.rkey), job.receipt_uri, job.receipt_cid,
                              view.value)  # fmt: skip
            if time.monotonic() + delay > deadline:
                return None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
