"""The settler's order of things: the job records are durable before anything settles; if
they never were, the hold is released and nothing is charged."""

from __future__ import annotations

import asyncio
from typing import Any

from cocore.errors import Unavailable
from cocore.lexicon import ids
from cocore.syntax import parse_did
from services.gateway.exchange_client import Settled
from services.gateway.records import JobRecords, Placed, place
from services.gateway.settle import SettleJob, Settler

DID = parse_did("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa")
RECEIPT = place(parse_did("did:plc:bbbbbbbbbbbbbbbbbbbbbbbb"), ids.COMPUTE_RECEIPT, "3kaaaaaaaaa22",
                {"n": 1})  # fmt: skip


class FakeExchange:
    """Records what the settler asked of the exchange (pure decision logic under test)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def release(self, hold_id: str) -> bool:
        self.calls.append(f"release {hold_id}")
        return True

    async def settle(self, receipt: Placed, job: Placed, auth: Placed, hold_id: str) -> Settled:
        self.calls.append(f"settle {hold_id}")
        return Settled(True, "at://settlement", 1, 0, 1, (), False)


class FoundReceipts:
    async def wait(self, uri: str, cid: str, timeout_s: float) -> Placed | None:
        return RECEIPT


def _settler(exchange: FakeExchange) -> Settler:
    settler = Settler(exchange, None, receipt_wait_s=1)  # type: ignore[arg-type]
    settler.receipts = FoundReceipts()  # type: ignore[assignment]
    return settler


def _job(recorded: asyncio.Future[None]) -> SettleJob:
    job = place(DID, ids.COMPUTE_JOB, "3kaaaaaaaaa23", {"n": 2})
    auth = place(DID, ids.COMPUTE_PAYMENT_AUTHORIZATION, "3kaaaaaaaaa24", {"n": 3})
    return SettleJob(JobRecords(auth, job, 10), "hold-1", RECEIPT.uri, RECEIPT.cid, recorded)


async def test_settlement_waits_for_the_job_records() -> None:
    exchange = FakeExchange()
    recorded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    task = _settler(exchange).submit(_job(recorded))
    await asyncio.sleep(0.05)
    assert exchange.calls == [] and not task.done()  # the outbox write is still running
    recorded.set_result(None)
    result: Any = await task
    assert result.settled and exchange.calls == ["settle hold-1"]


async def test_records_that_were_never_queued_release_the_hold() -> None:
    exchange = FakeExchange()
    recorded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    recorded.set_exception(Unavailable("the gateway's database is down"))
    assert await _settler(exchange).submit(_job(recorded)) is None
    assert exchange.calls == ["release hold-1"]  # nothing charged, nothing held


class SilentFeed:
    """An AppView feed that never brings the receipt (down, or far behind)."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    async def wait(self, uri: str, cid: str, timeout_s: float) -> Placed | None:
        self.asked.append(timeout_s)
        return None


class CountingReceipts(FoundReceipts):
    def __init__(self) -> None:
        self.asked = 0

    async def wait(self, uri: str, cid: str, timeout_s: float) -> Placed | None:
        self.asked += 1
        return RECEIPT


async def test_the_feed_brings_the_receipt_and_no_pds_is_asked() -> None:
    exchange, pds = FakeExchange(), CountingReceipts()
    settler = Settler(exchange, None, receipt_wait_s=60,  # type: ignore[arg-type]
                      feed=FoundReceipts())  # type: ignore[arg-type]  # fmt: skip
    settler.receipts = pds  # type: ignore[assignment]
    done = asyncio.get_running_loop().create_future()
    done.set_result(None)
    result: Any = await settler.submit(_job(done))
    assert result.settled and pds.asked == 0 and exchange.calls == ["settle hold-1"]


async def test_a_silent_feed_falls_back_to_the_providers_pds() -> None:
    exchange, pds, feed = FakeExchange(), CountingReceipts(), SilentFeed()
    settler = Settler(exchange, None, receipt_wait_s=60, feed=feed)  # type: ignore[arg-type]
    settler.receipts = pds  # type: ignore[assignment]
    done = asyncio.get_running_loop().create_future()
    done.set_result(None)
    result: Any = await settler.submit(_job(done))
    assert result.settled and pds.asked == 1 and exchange.calls == ["settle hold-1"]
    assert feed.asked and feed.asked[0] < 60  # the feed had a share of the wait, not all of it
