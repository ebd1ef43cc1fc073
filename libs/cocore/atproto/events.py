"""Typed firehose events (`com.atproto.sync.subscribeRepos`) as the consumer yields them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from cocore.syntax import AtUri, Cid, Did, Nsid, RecordKey

Action = Literal["create", "update", "delete"]


@dataclass(frozen=True, slots=True)
class RecordOp:
    """One record operation of a `#commit`. `record` is the JSON form (`$link`, `$bytes`)."""

    seq: int
    repo: Did
    action: Action
    collection: Nsid
    rkey: RecordKey
    uri: AtUri
    cid: Cid | None
    record: dict[str, Any] | None
    time: str
    rev: str


@dataclass(frozen=True, slots=True)
class IdentityEvent:
    """The account's DID document or handle may have changed: re-resolve it."""

    seq: int
    did: Did
    handle: str | None
    time: str


@dataclass(frozen=True, slots=True)
class AccountEvent:
    """The account's hosting status changed (`active` false: deactivated, taken down, …)."""

    seq: int
    did: Did
    active: bool
    status: str | None
    time: str


@dataclass(frozen=True, slots=True)
class SyncEvent:
    """The repo's state was reset to a new commit (resync it rather than trusting diffs)."""

    seq: int
    did: Did
    rev: str
    time: str


@dataclass(frozen=True, slots=True)
class InfoEvent:
    """An informational frame, e.g. `OutdatedCursor` (the backfill starts later than asked)."""

    name: str
    message: str | None


FirehoseEvent = RecordOp | IdentityEvent | AccountEvent | SyncEvent | InfoEvent


@dataclass(frozen=True, slots=True)
class Batch:
    """The events of one frame. Persist `seq` (when not None) once they are processed."""

    seq: int | None
    events: tuple[FirehoseEvent, ...]
