"""Receipts from the AppView's record feed (`WatchRecords`): validated, ownership-checked
receipts from every PDS the AppView follows, resumable by the feed's sequence number."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import grpc

from cocore.lexicon import ids
from cocore.proto.appview.v1 import appview_pb2 as pb
from cocore.proto.appview.v1 import appview_pb2_grpc as pb_grpc
from cocore.rpc import error_from_rpc
from cocore.storage import Database
from cocore.syntax import InvalidSyntaxError, parse_at_uri

from .receipts import ReceiptEvent, load_cursor, save_cursor

_SETTLEABLE = (pb.RecordEvent.ACTION_CREATE, pb.RecordEvent.ACTION_UPDATE)


class AppViewFeedSource:
    """A `ReceiptSource` over an AppView's `WatchRecords` stream (one event per batch)."""

    def __init__(
        self, database: Database, address: str, clock: Callable[[], datetime]
    ) -> None:  # fmt: skip
        self.name = f"appview:{address}"
        self.db = database
        self._address = address
        self._clock = clock

    async def batches(self) -> AsyncIterator[tuple[list[ReceiptEvent], int | None]]:
        # No committed position yet: replay everything the feed retains (settling is
        # exactly once per receipt URI, so what the fast path already settled is a no-op).
        cursor = await load_cursor(self.db, self.name)
        request = pb.WatchRecordsRequest(cursor=cursor or 0, collections=[ids.COMPUTE_RECEIPT])
        async with grpc.aio.insecure_channel(self._address) as channel:
            stream = pb_grpc.AppViewStub(channel).WatchRecords(request)
            try:
                async for event in stream:
                    yield receipts_of(event), int(event.seq)
            except grpc.aio.AioRpcError as e:
                raise error_from_rpc(e) from None  # the supervisor restarts the source

    async def commit(self, position: int) -> None:
        await save_cursor(self.db, self.name, position, self._clock())


def receipts_of(event: Any) -> list[ReceiptEvent]:
    """The receipt an event carries ([] for deletes, other collections and unreadable bytes)."""
    if event.action not in _SETTLEABLE or event.record.collection != ids.COMPUTE_RECEIPT:
        return []
    try:
        uri = parse_at_uri(event.record.uri)
        record = json.loads(event.record.record)
    except (InvalidSyntaxError, ValueError):
        return []
    if not isinstance(record, dict):
        return []
    return [ReceiptEvent(uri, event.record.cid or None, record)]
