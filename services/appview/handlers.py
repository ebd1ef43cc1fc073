"""gRPC handlers: request fields → the same `Queries.call` as XRPC → protobuf responses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message

from cocore.lexicon import ids
from cocore.proto.appview.v1 import appview_pb2 as pb
from cocore.proto.appview.v1 import appview_pb2_grpc
from cocore.proto.common.v1 import common_pb2
from cocore.syntax import Nsid, parse_nsid

from .feed import FeedEvent, FeedHub
from .queries import Queries
from .read import IndexedRecord

_SEVERITY = {
    "error": common_pb2.SEVERITY_ERROR,
    "warning": common_pb2.SEVERITY_WARNING,
    "info": common_pb2.SEVERITY_INFO,
}
_ACTION = {
    "create": pb.RecordEvent.ACTION_CREATE,
    "update": pb.RecordEvent.ACTION_UPDATE,
    "delete": pb.RecordEvent.ACTION_DELETE,
}


def raw_params(**fields: Any) -> dict[str, str]:
    """Set proto fields as query-string text; unset (empty, 0, false) ones are left out."""
    out: dict[str, str] = {}
    for name, value in fields.items():
        if value in ("", 0, False, None):
            continue
        out[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


def record_pb(record: IndexedRecord) -> pb.IndexedRecord:
    out = pb.IndexedRecord(record=common_pb2.Record(
        uri=record.uri, cid=record.cid, record=record.body, collection=str(record.collection),
        repo=record.repo, rkey=record.rkey,
    ))  # fmt: skip
    out.indexed_at.FromDatetime(record.indexed_at)
    return out


def event_pb(event: FeedEvent) -> pb.RecordEvent:
    record = common_pb2.Record(
        uri=event.uri, cid=event.cid or "", record=event.record or b"",
        collection=event.collection, repo=event.repo, rkey=event.rkey,
    )  # fmt: skip
    out = pb.RecordEvent(seq=event.seq, action=_ACTION[event.action], rev=event.rev, record=record)
    out.indexed_at.FromDatetime(event.indexed_at)
    return out


class AppViewServicer(appview_pb2_grpc.AppViewServicer):
    def __init__(self, queries: Queries, hub: FeedHub) -> None:
        self._q, self._hub = queries, hub

    async def _page(self, nsid: Nsid, key: str, raw: dict[str, str]) -> pb.RecordPage:
        result = await self._q.call(nsid, raw)
        return pb.RecordPage(records=[record_pb(r) for r in result[key]],
                             cursor=result.get("cursor", ""))  # fmt: skip

    async def ListProviders(self, request: Any, context: Any) -> pb.RecordPage:
        raw = raw_params(limit=request.limit, cursor=request.cursor)
        return await self._page(ids.COMPUTE_LIST_PROVIDERS, "providers", raw)

    async def ListProfiles(self, request: Any, context: Any) -> pb.RecordPage:
        raw = raw_params(limit=request.limit, cursor=request.cursor)
        return await self._page(ids.ACCOUNT_LIST_PROFILES, "profiles", raw)

    async def ListReceipts(self, request: Any, context: Any) -> pb.RecordPage:
        raw = raw_params(provider=request.provider, requester=request.requester, job=request.job,
                         limit=request.limit, cursor=request.cursor)  # fmt: skip
        return await self._page(ids.COMPUTE_LIST_RECEIPTS, "receipts", raw)

    async def ListJobs(self, request: Any, context: Any) -> pb.RecordPage:
        raw = raw_params(requester=request.requester, limit=request.limit, cursor=request.cursor)
        return await self._page(ids.COMPUTE_LIST_JOBS, "jobs", raw)

    async def ListSettlements(self, request: Any, context: Any) -> pb.RecordPage:
        raw = raw_params(receipt=request.receipt, requester=request.requester,
                         limit=request.limit, cursor=request.cursor)  # fmt: skip
        return await self._page(ids.COMPUTE_LIST_SETTLEMENTS, "settlements", raw)

    async def VerifyReceipt(self, request: Any, context: Any) -> pb.VerifyResponse:
        return _verdict(await self._q.call(ids.COMPUTE_VERIFY_RECEIPT, raw_params(uri=request.uri)))

    async def VerifySettlement(self, request: Any, context: Any) -> pb.VerifyResponse:
        result = await self._q.call(ids.COMPUTE_VERIFY_SETTLEMENT, raw_params(uri=request.uri))
        return _verdict(result)

    async def ModelActivity(self, request: Any, context: Any) -> Message:
        raw = raw_params(limit=request.limit, cursor=request.cursor)
        result = await self._q.call(ids.COMPUTE_MODEL_ACTIVITY, raw)
        return _parse(result, pb.ModelActivityResponse())

    async def Latency(self, request: Any, context: Any) -> Message:
        raw = raw_params(limit=request.limit, cursor=request.cursor)
        result = await self._q.call(ids.COMPUTE_LATENCY, raw)
        result["byProvider"] = [{"did": k, "stats": v} for k, v in result["byProvider"].items()]
        result["byModel"] = [{"modelId": k, "stats": v} for k, v in result["byModel"].items()]
        return _parse(result, pb.LatencyResponse())

    async def GetProfile(self, request: Any, context: Any) -> Message:
        result = await self._q.call(ids.ACCOUNT_GET_PROFILE, raw_params(did=request.did))
        return _parse(result, pb.GetProfileResponse())

    async def ListAccounts(self, request: Any, context: Any) -> Message:
        raw = raw_params(
            limit=request.limit, offset=request.offset, sortBy=request.sort_by,
            providersOnly=request.providers_only, viewerDid=request.viewer_did,
            excludeViewerFriends=request.exclude_viewer_friends, q=request.q,
            cursor=request.cursor,
        )  # fmt: skip
        return _parse(await self._q.call(ids.ACCOUNT_LIST_ACCOUNTS, raw), pb.ListAccountsResponse())

    async def ListIncomingFriends(self, request: Any, context: Any) -> Message:
        raw = raw_params(did=request.did, limit=request.limit, cursor=request.cursor)
        result = await self._q.call(ids.ACCOUNT_LIST_INCOMING_FRIENDS, raw)
        return _parse(result, pb.ListIncomingFriendsResponse())

    async def ListFriendEdges(self, request: Any, context: Any) -> Message:
        raw = raw_params(limit=request.limit, cursor=request.cursor)
        result = await self._q.call(ids.ACCOUNT_LIST_FRIEND_EDGES, raw)
        return _parse(result, pb.ListFriendEdgesResponse())

    async def WatchRecords(self, request: Any, context: Any) -> AsyncIterator[pb.RecordEvent]:
        collections = [str(parse_nsid(c)) for c in request.collections]
        cursor = request.cursor if request.HasField("cursor") else None
        async for event in self._hub.watch(cursor, collections):
            yield event_pb(event)


def _verdict(result: dict[str, Any]) -> pb.VerifyResponse:
    findings = [
        common_pb2.Finding(severity=_SEVERITY[f["severity"]], code=f["code"], message=f["message"])
        for f in result["findings"]
    ]
    return pb.VerifyResponse(ok=result["ok"], trust_level=result.get("trustLevel", ""),
                             findings=findings)  # fmt: skip


def _parse(result: dict[str, Any], message: Message) -> Message:
    # The lexicon JSON and the proto share field names (camelCase JSON names), and record
    # bodies never appear in these responses, so the JSON maps onto the message directly.
    return json_format.ParseDict(result, message, ignore_unknown_fields=True)


def register(queries: Queries, hub: FeedHub) -> Any:
    def add(server: grpc.aio.Server) -> list[str]:
        appview_pb2_grpc.add_AppViewServicer_to_server(AppViewServicer(queries, hub), server)
        return [pb.DESCRIPTOR.services_by_name["AppView"].full_name]

    return add
