"""The published query methods: parameters in (as query-string text), lexicon-shaped JSON out.

Both surfaces call `Queries.call`: XRPC passes the query string, gRPC its request fields, so
parameters are validated once, by the lexicon, the same way for both.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

from cocore.lexicon import default_registry, ids
from cocore.syntax import InvalidSyntaxError, Nsid, format_datetime, parse_nsid

from .accounts import AccountQueries
from .aggregates import Aggregates
from .errors import InvalidRequest, MethodNotFound
from .read import IndexedRecord, Page, RecordReader
from .verification import Verifier

Raw = Mapping[str, str | list[str]]
Params = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Paging:
    default: int
    maximum: int


# Paging for methods whose lexicon does not declare `limit`/`cursor` (it is added, not changed).
_PAGING: dict[Nsid, Paging] = {
    ids.COMPUTE_LIST_PROVIDERS: Paging(50, 100),
    ids.COMPUTE_LIST_RECEIPTS: Paging(50, 200),
    ids.COMPUTE_LIST_JOBS: Paging(50, 500),
    ids.COMPUTE_LIST_SETTLEMENTS: Paging(50, 200),
    ids.ACCOUNT_LIST_PROFILES: Paging(50, 500),
    ids.COMPUTE_MODEL_ACTIVITY: Paging(100, 500),
    ids.COMPUTE_LATENCY: Paging(50, 200),
    ids.ACCOUNT_LIST_ACCOUNTS: Paging(24, 100),
    ids.ACCOUNT_LIST_INCOMING_FRIENDS: Paging(50, 200),
    ids.ACCOUNT_LIST_FRIEND_EDGES: Paging(5000, 20000),
}


def indexed_record_json(record: IndexedRecord) -> dict[str, Any]:
    return {**indexed_record_json_head(record), "body": json.loads(record.body)}


def page_result(key: str, page: Page) -> dict[str, Any]:
    """A list response holding the records themselves; `to_json_bytes` renders it for XRPC."""
    out: dict[str, Any] = {key: page.records}
    if page.cursor is not None:
        out["cursor"] = page.cursor
    return out


def to_json_bytes(result: dict[str, Any]) -> bytes:
    """The response body. Record bodies are canonical JSON already, so they are spliced in as
    stored rather than parsed and encoded again (most of a list response's bytes)."""
    parts = []
    for key, value in result.items():
        if isinstance(value, list) and value and isinstance(value[0], IndexedRecord):
            rendered = b"[" + b",".join(_record_bytes(r) for r in value) + b"]"
        else:
            rendered = _dumps(value)
        parts.append(_dumps(key) + b":" + rendered)
    return b"{" + b",".join(parts) + b"}"


def _record_bytes(record: IndexedRecord) -> bytes:
    # What _dumps(indexed_record_json_head(record)) writes, key for key, with the body spliced
    # in: formatted directly (fifty records a page, an encoder build each with json.dumps).
    head = (
        f'{{"uri":{_text(record.uri)},"cid":{_text(record.cid)},'
        f'"collection":{_text(str(record.collection))},"repo":{_text(record.repo)},'
        f'"rkey":{_text(record.rkey)},"indexedAt":{_text(_utc_text(record.indexed_at))},"body":'
    )
    return head.encode() + record.body + b"}"


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_text = encode_basestring  # a JSON string literal, UTF-8 kept (as ensure_ascii=False writes)


def _dumps(value: Any) -> bytes:
    return _ENCODER.encode(value).encode()


def indexed_record_json_head(record: IndexedRecord) -> dict[str, Any]:
    return {
        "uri": record.uri,
        "cid": record.cid,
        "collection": str(record.collection),
        "repo": record.repo,
        "rkey": record.rkey,
        "indexedAt": _utc_text(record.indexed_at),
    }


def _utc_text(moment: datetime) -> str:
    # format_datetime's shape (UTC, milliseconds, Z) for the UTC values the store returns,
    # without its per-call conversions: this runs once per record of every page.
    if moment.tzinfo is not UTC:
        return str(format_datetime(moment))
    return moment.isoformat(timespec="milliseconds")[:-6] + "Z"


class Queries:
    """Dispatches a method NSID to its handler after validating its parameters."""

    def __init__(
        self,
        reader: RecordReader,
        aggregates: Aggregates,
        accounts: AccountQueries,
        verifier: Verifier,
    ) -> None:
        self.reader = reader
        self._registry = default_registry()
        self._handlers: dict[Nsid, Callable[[Params], Awaitable[dict[str, Any]]]] = {
            ids.COMPUTE_LIST_PROVIDERS: self._list_providers,
            ids.COMPUTE_LIST_RECEIPTS: self._list_receipts,
            ids.COMPUTE_LIST_JOBS: self._list_jobs,
            ids.COMPUTE_LIST_SETTLEMENTS: self._list_settlements,
            ids.ACCOUNT_LIST_PROFILES: self._list_profiles,
            ids.COMPUTE_VERIFY_RECEIPT: verifier.verify_receipt_json,
            ids.COMPUTE_VERIFY_SETTLEMENT: verifier.verify_settlement_json,
            ids.COMPUTE_MODEL_ACTIVITY: aggregates.model_activity,
            ids.COMPUTE_LATENCY: aggregates.latency,
            ids.ACCOUNT_GET_PROFILE: accounts.get_profile,
            ids.ACCOUNT_LIST_ACCOUNTS: accounts.list_accounts,
            ids.ACCOUNT_LIST_INCOMING_FRIENDS: accounts.list_incoming_friends,
            ids.ACCOUNT_LIST_FRIEND_EDGES: accounts.list_friend_edges,
        }

    @property
    def methods(self) -> frozenset[Nsid]:
        return frozenset(self._handlers)

    async def call(self, method: str, raw: Raw) -> dict[str, Any]:
        nsid = self._method(method)
        params = self._registry.validate_params(nsid, raw)  # LexiconValidationError → 400
        paging = _PAGING.get(nsid)
        if paging is not None:
            params["limit"] = _limit(params.get("limit", raw.get("limit")), paging)
            params["cursor"] = _one(raw.get("cursor"), "cursor")
        return await self._handlers[nsid](params)

    def _method(self, method: str) -> Nsid:
        try:
            nsid = parse_nsid(method)
        except InvalidSyntaxError as e:
            raise MethodNotFound(f"{method[:100]!r} is not a method NSID") from e
        if nsid not in self._handlers:
            raise MethodNotFound(f"this AppView does not serve {nsid}")
        return nsid

    async def _list(
        self, collection: Nsid, key: str, params: Params, **where: str
    ) -> dict[str, Any]:
        page = await self.reader.page(collection, where, params["limit"], params["cursor"])
        return page_result(key, page)

    async def _list_providers(self, p: Params) -> dict[str, Any]:
        return await self._list(ids.COMPUTE_PROVIDER, "providers", p)

    async def _list_profiles(self, p: Params) -> dict[str, Any]:
        return await self._list(ids.ACCOUNT_PROFILE, "profiles", p)

    async def _list_receipts(self, p: Params) -> dict[str, Any]:
        return await self._list(ids.COMPUTE_RECEIPT, "receipts", p, **_given(p, _RECEIPT_FILTERS))

    async def _list_jobs(self, p: Params) -> dict[str, Any]:
        return await self._list(ids.COMPUTE_JOB, "jobs", p, repo=p["requester"])

    async def _list_settlements(self, p: Params) -> dict[str, Any]:
        filters = _given(p, _SETTLEMENT_FILTERS)
        return await self._list(ids.COMPUTE_SETTLEMENT, "settlements", p, **filters)


# parameter → the indexed column it filters on
_RECEIPT_FILTERS = {"provider": "repo", "requester": "requester", "job": "job_uri"}
_SETTLEMENT_FILTERS = {"receipt": "receipt_uri", "requester": "requester"}


def _given(p: Params, columns: Mapping[str, str]) -> dict[str, str]:
    return {column: p[name] for name, column in columns.items() if name in p}


def _one(value: str | list[str] | None, name: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if len(value) != 1:
        raise InvalidRequest(f"{name}: expected one value, got {len(value)}")
    return value[0]


def _limit(value: Any, paging: Paging) -> int:
    if value is None:
        return paging.default
    if isinstance(value, int):
        limit = value
    else:
        text = _one(value, "limit") or ""
        if not text.isascii() or not text.isdigit() or len(text) > 9:
            raise InvalidRequest("limit: expected an integer")
        limit = int(text)
    if not 1 <= limit <= paging.maximum:
        raise InvalidRequest(f"limit: must be between 1 and {paging.maximum}")
    return limit
