"""Providers' receipts as the AppView indexes them: one `WatchRecords` stream for every job.

The settler needs each job's receipt once the provider publishes it. Asking each provider's
PDS (`receipts.py` polls `listRecords`) costs that PDS a read per round while it is busiest;
the AppView already reads every PDS's firehose and validates each receipt, so one stream of
its receipt events serves every waiter here at no cost to any PDS. A receipt that arrives
before anyone waits for it (the settler first waits for the job's own records) is kept for a
while in a small buffer of recent ones.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict

import grpc

from cocore.lexicon import ids
from cocore.proto.appview.v1 import appview_pb2 as pb
from cocore.proto.appview.v1 import appview_pb2_grpc as pb_grpc
from cocore.syntax import InvalidSyntaxError, parse_at_uri

from .receipts import checked
from .records import Placed

log = logging.getLogger("cocore.gateway")
RECENT = 2048  # receipts kept for a waiter that comes after them
RETRY_S = (0.1, 5.0)  # reconnect backoff: first and longest
_LIVE = (pb.RecordEvent.ACTION_CREATE, pb.RecordEvent.ACTION_UPDATE)


class ReceiptFeed:
    """`wait(uri, cid)` for receipts from an AppView's feed; `run()` holds the stream."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._seq: int | None = None  # the last event handled: where a reconnect resumes
        self._recent: OrderedDict[str, tuple[str, bytes]] = OrderedDict()  # uri → (cid, JSON)
        self._waiting: dict[str, tuple[str, asyncio.Future[Placed | None]]] = {}

    async def wait(self, uri: str, cid: str, timeout_s: float) -> Placed | None:
        """The receipt at `uri` if it arrives with CID `cid` within `timeout_s`; else None."""
        if (seen := self._recent.get(uri)) is not None:
            return _placed(uri, cid, *seen)
        found: asyncio.Future[Placed | None] = asyncio.get_running_loop().create_future()
        self._waiting[uri] = (cid, found)
        try:
            return await asyncio.wait_for(found, timeout_s)
        except TimeoutError:
            return None
        finally:
            if self._waiting.get(uri, (None, None))[1] is found:
                del self._waiting[uri]

    async def run(self) -> None:
        """Follow the feed until cancelled, reconnecting (from the last event) when it drops."""
        delay = RETRY_S[0]
        while True:
            before = self._seq
            try:
                await self._follow()
            except grpc.aio.AioRpcError as e:
                log.info("receipt_feed_dropped code=%s", e.code().name)
            delay = RETRY_S[0] if self._seq != before else min(delay * 2, RETRY_S[1])
            await asyncio.sleep(delay)

    async def _follow(self) -> None:
        request = pb.WatchRecordsRequest(collections=[ids.COMPUTE_RECEIPT])
        if self._seq is not None:
            request.cursor = self._seq  # no gap across a reconnect
        async with grpc.aio.insecure_channel(self.address) as channel:
            stream = pb_grpc.AppViewStub(channel).WatchRecords(request)
            async for event in stream:
                self._seq = int(event.seq)
                if event.action in _LIVE and event.record.collection == ids.COMPUTE_RECEIPT:
                    self._arrived(event.record.uri, event.record.cid, event.record.record)

    def _arrived(self, uri: str, cid: str, body: bytes) -> None:
        waiting = self._waiting.pop(uri, None)
        if waiting is not None:
            expected, found = waiting
            if not found.done():
                found.set_result(_placed(uri, expected, cid, body))
            return
        self._recent[uri] = (cid, body)
        self._recent.move_to_end(uri)
        while len(self._recent) > RECENT:
            self._recent.popitem(last=False)


def _placed(uri: str, expected: str, cid: str, body: bytes) -> Placed | None:
    """The receipt, if it is the version the completion named (`receipts.checked`)."""
    try:
        at, record = parse_at_uri(uri), json.loads(body)
    except (InvalidSyntaxError, ValueError):
        log.warning("receipt_unreadable uri=%s", uri)
        return None
    return checked(at, expected, cid, record)
