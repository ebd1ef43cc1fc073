"""Firehose events and listed records → store items, validating every record on the way."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from cocore.atproto import (
    AccountEvent,
    FirehoseEvent,
    IdentityEvent,
    RecordOp,
    SyncEvent,
    UnverifiedCommit,
)
from cocore.syntax import Nsid

from .events import Events
from .items import AccountStatus, HandleChange, Item, Put, Rejection, Remove, Resync
from .validate import Accepted, RecordValidator, Rejected

Op = tuple[str, str, str, Mapping[str, Any]]  # collection, repo, rkey, record


def record_item(
    validator: RecordValidator,
    events: Events,
    *,
    uri: str,
    collection: Nsid,
    repo: str,
    rkey: str,
    rev: str,
    cid: str,
    record: Mapping[str, Any],
) -> Put | Rejection:
    verdict = validator.check(collection, repo, rkey, record)
    return verdict_item(verdict, events, uri=uri, collection=collection, repo=repo, rkey=rkey,
                        rev=rev, cid=cid)  # fmt: skip


def verdict_item(
    verdict: Accepted | Rejected,
    events: Events | None,
    *,
    uri: str,
    collection: Nsid,
    repo: str,
    rkey: str,
    rev: str,
    cid: str,
) -> Put | Rejection:
    if isinstance(verdict, Accepted):
        return Put(uri, collection, repo, rkey, rev, cid, verdict.body, verdict.columns)
    if events is not None:
        events.record_invalid(verdict.reason, uri, verdict.detail)
    return Rejection(uri, collection, repo, rkey, rev, cid, verdict.reason, verdict.detail)


def checks(evts: Iterable[FirehoseEvent]) -> list[Op]:
    """The records among `evts` that need validating, in order (see `firehose_items`)."""
    out: list[Op] = []
    for e in evts:
        if isinstance(e, RecordOp) and e.record is not None and _carries_record(e):
            out.append((e.collection, e.repo, e.rkey, e.record))
    return out


def firehose_items(
    evts: Iterable[FirehoseEvent], verdicts: Sequence[Accepted | Rejected]
) -> list[Item]:
    """Store items for one frame; `verdicts` are those of `checks(evts)`, in order. Pure
    (it may run in a child process): the writer reports the invalid ones (`report_invalid`)."""
    pending = iter(verdicts)
    out: list[Item] = []
    for e in evts:
        if isinstance(e, RecordOp):
            out.append(_op_item(e, pending))
        elif isinstance(e, IdentityEvent):
            out.append(HandleChange(e.did, e.handle))
        elif isinstance(e, AccountEvent):
            out.append(AccountStatus(e.did, e.active, e.status))
        elif isinstance(e, SyncEvent):
            out.append(Resync(e.did))
        elif isinstance(e, UnverifiedCommit):
            out.append(Resync(e.did, e.reason, detail=e.detail))
    return out


def _carries_record(op: RecordOp) -> bool:
    return op.action != "delete" and op.record is not None and op.cid is not None


def _op_item(op: RecordOp, verdicts: Iterator[Accepted | Rejected]) -> Item:
    if op.action == "delete":
        return Remove(str(op.uri), op.collection, op.repo, str(op.rkey), op.rev)
    if not _carries_record(op):
        # A `tooBig` commit carries no blocks: list the repo again rather than guess.
        return Resync(op.repo, "record-missing", str(op.uri), "commit carried no record block")
    # Plain strings for what is unique per record (repo and collection objects repeat, and
    # pickle sends a repeated object once): items may cross from a child process. Built
    # here rather than through `verdict_item`: this runs for every record on the firehose.
    verdict = next(verdicts)
    uri, rkey, cid = str(op.uri), str(op.rkey), str(op.cid)
    if isinstance(verdict, Accepted):
        return Put(uri, op.collection, op.repo, rkey, op.rev, cid, verdict.body, verdict.columns)
    return Rejection(uri, op.collection, op.repo, rkey, op.rev, cid, verdict.reason, verdict.detail)


def report_invalid(items: Iterable[Item], events: Events) -> None:
    """Count and log the invalid records among firehose items (see `firehose_items`)."""
    for item in items:
        if isinstance(item, Rejection):
            events.record_invalid(item.reason, item.uri, item.detail)
        elif isinstance(item, Resync) and item.reason is not None:
            events.record_invalid(item.reason, item.uri or f"at://{item.did}", item.detail)
