"""Value types of the repo record API: write results, record views, batched write operations."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cocore.syntax import (
    AtUri,
    Cid,
    Did,
    Nsid,
    RecordKey,
    Tid,
    make_at_uri,
    parse_at_uri,
    parse_cid,
    parse_did,
    parse_nsid,
    parse_record_key,
)

from . import _parse as p
from .errors import BadResponse

APPLY_WRITES = "com.atproto.repo.applyWrites"

Rkey = RecordKey | Tid  # every TID is a valid record key; cocore records use TIDs


def record_uri(repo: Did, collection: Nsid, rkey: Rkey) -> AtUri:
    key = rkey if isinstance(rkey, RecordKey) else parse_record_key(rkey)
    return make_at_uri(repo, collection, key)


@dataclass(frozen=True, slots=True)
class WriteResult:
    """Where a created or updated record now lives and the CID the PDS computed for it."""

    uri: AtUri
    cid: Cid


@dataclass(frozen=True, slots=True)
class DeleteResult:
    uri: AtUri


@dataclass(frozen=True, slots=True)
class RecordView:
    """A record as read back: its address, its CID and its JSON value (with `$type`)."""

    uri: AtUri
    cid: Cid
    value: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RecordPage:
    records: list[RecordView]
    cursor: str | None


@dataclass(frozen=True, slots=True)
class RepoDescription:
    did: Did
    handle: str
    collections: list[Nsid]
    did_doc: dict[str, Any]
    handle_is_correct: bool


@dataclass(frozen=True, slots=True)
class Create:
    """An applyWrites create; `rkey=None` lets the PDS pick a TID."""

    collection: Nsid
    value: Mapping[str, Any]
    rkey: Rkey | None = None


@dataclass(frozen=True, slots=True)
class Update:
    collection: Nsid
    rkey: Rkey
    value: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Delete:
    collection: Nsid
    rkey: Rkey


Write = Create | Update | Delete


def with_type(collection: Nsid, record: Mapping[str, Any]) -> dict[str, Any]:
    """The record as the PDS stores it: `$type` is added when missing (it is part of the CID)."""
    return dict(record) if "$type" in record else {"$type": str(collection), **record}


def write_json(write: Write) -> dict[str, Any]:
    """The `com.atproto.repo.applyWrites#create|update|delete` JSON of one operation."""
    if isinstance(write, Create):
        out: dict[str, Any] = {"$type": f"{APPLY_WRITES}#create", "collection": write.collection}
        out["value"] = with_type(write.collection, write.value)
        if write.rkey is not None:
            out["rkey"] = write.rkey
        return out
    if isinstance(write, Update):
        value = with_type(write.collection, write.value)
        return {"$type": f"{APPLY_WRITES}#update", "collection": write.collection,
                "rkey": write.rkey, "value": value}  # fmt: skip
    return {"$type": f"{APPLY_WRITES}#delete", "collection": write.collection, "rkey": write.rkey}


def write_result(body: Any, what: str) -> WriteResult:
    b = p.as_object(body, what)
    return WriteResult(
        uri=p.field(b, "uri", parse_at_uri, what), cid=p.field(b, "cid", parse_cid, what)
    )


def record_view(body: Any, what: str) -> RecordView:
    b = p.as_object(body, what)
    return RecordView(
        uri=p.field(b, "uri", parse_at_uri, what),
        cid=p.field(b, "cid", parse_cid, what),
        value=p.field(b, "value", p.obj, what),
    )


def record_page(body: Any, what: str) -> RecordPage:
    b = p.as_object(body, what)
    items = b.get("records")
    if not isinstance(items, list):
        raise BadResponse(f"{what}: missing field 'records'")
    return RecordPage(
        records=[record_view(r, what) for r in items],
        cursor=p.opt_field(b, "cursor", p.text, what),
    )


def apply_results(
    repo: Did, writes: list[Write], body: Any, what: str
) -> list[WriteResult | DeleteResult]:
    b = p.as_object(body, what)
    results = b.get("results")
    if not isinstance(results, list) or len(results) != len(writes):
        raise BadResponse(f"{what}: expected one result per write")
    out: list[WriteResult | DeleteResult] = []
    for write, result in zip(writes, results, strict=True):
        if isinstance(write, Delete):
            out.append(DeleteResult(record_uri(repo, write.collection, write.rkey)))
        else:
            out.append(write_result(result, what))
    return out


def repo_description(body: Any, what: str) -> RepoDescription:
    b = p.as_object(body, what)
    collections = b.get("collections")
    if not isinstance(collections, list):
        raise BadResponse(f"{what}: missing field 'collections'")
    return RepoDescription(
        did=p.field(b, "did", parse_did, what),
        handle=p.field(b, "handle", p.text, what),
        collections=[p.field({"c": c}, "c", parse_nsid, what) for c in collections],
        did_doc=p.field(b, "didDoc", p.obj, what),
        handle_is_correct=b.get("handleIsCorrect") is True,
    )
