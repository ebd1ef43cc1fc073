"""What the ingest and backfill paths hand the store: record changes and repo events, in order.

Items are named tuples: plain data that crosses from a child process (front.py) cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from cocore.syntax import Nsid


class Put(NamedTuple):
    """A valid record version at commit `rev` (a TID: revs of one repo sort as strings)."""

    uri: str
    collection: Nsid
    repo: str
    rkey: str
    rev: str
    cid: str
    body: bytes
    columns: dict[str, Any]


class Remove(NamedTuple):
    """The record is gone at `rev`. `force` (account purges) skips the revision check."""

    uri: str
    collection: Nsid
    repo: str
    rkey: str
    rev: str
    force: bool = False


class Rejection(NamedTuple):
    """The version at `rev` is invalid: any older indexed version is removed, the reason kept."""

    uri: str
    collection: Nsid
    repo: str
    rkey: str
    rev: str
    cid: str | None
    reason: str
    detail: str


class HandleChange(NamedTuple):
    did: str
    handle: str | None


class AccountStatus(NamedTuple):
    did: str
    active: bool
    status: str | None


class Resync(NamedTuple):
    """The repo must be listed again: a #sync event, or a commit it could not take as it
    came — one that carried an op's CID but not its record, or one that proved nothing.
    `reason` (with the record's `uri`, if one, and `detail`) is then counted as invalid."""

    did: str
    reason: str | None = None
    uri: str | None = None
    detail: str = ""


RecordItem = Put | Remove | Rejection
RepoItem = HandleChange | AccountStatus | Resync
Item = RecordItem | RepoItem


@dataclass(frozen=True, slots=True)
class Prune:
    """Backfill is done listing `did` at `rev`: every listed row now has a rev ≥ `rev`, so
    rows still older than it were not listed, and are deleted."""

    did: str
    rev: str


@dataclass
class WriteBatch:
    """One transaction's worth of work, applied in order with the source cursor moved last."""

    items: list[Item] = field(default_factory=list)
    source: str | None = None
    cursor: int | None = None
    origin: str = "firehose"  # firehose | backfill
    prune: Prune | None = None
    backfilled: tuple[str, str, str | None] | None = None  # (did, rev, handle)


@dataclass
class Outcome:
    """What one batch changed (feeds metrics and wakes WatchRecords subscribers)."""

    created: int = 0
    updated: int = 0
    deleted: int = 0
    stale: int = 0
    rejected: int = 0
    new_repos: int = 0
    resyncs: int = 0  # repos queued to be listed again
    head: int = 0  # the feed seq after this batch
    feed: list[dict[str, Any]] = field(default_factory=list)  # the feed rows it committed
