"""What the ingest and backfill paths hand the store: record changes and repo events, in order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cocore.syntax import Nsid


@dataclass(frozen=True, slots=True)
class Put:
    """A valid record version at commit `rev` (a TID: revs of one repo sort as strings)."""

    uri: str
    collection: Nsid
    repo: str
    rkey: str
    rev: str
    cid: str
    body: bytes
    columns: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Remove:
    """The record is gone at `rev`. `force` (account purges) skips the revision check."""

    uri: str
    collection: Nsid
    repo: str
    rkey: str
    rev: str
    force: bool = False


@dataclass(frozen=True, slots=True)
class Rejection:
    """The version at `rev` is invalid: any older indexed version is removed, the reason kept."""

    uri: str
    collection: Nsid
    repo: str
    rkey: str
    rev: str
    cid: str | None
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class HandleChange:
    did: str
    handle: str | None


@dataclass(frozen=True, slots=True)
class AccountStatus:
    did: str
    active: bool
    status: str | None


@dataclass(frozen=True, slots=True)
class Resync:
    """The repo must be listed again (a #sync event, or a commit too big to carry records)."""

    did: str


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
    head: int = 0  # the feed seq after this batch
    feed: list[dict[str, Any]] = field(default_factory=list)  # the feed rows it committed
