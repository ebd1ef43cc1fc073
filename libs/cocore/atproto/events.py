"""Typed firehose events (`com.atproto.sync.subscribeRepos`) as the consumer yields them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from cocore.syntax import AtUri, Cid, Did, Nsid, RecordKey

from .commit import SignedCommit

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
class UnverifiedCommit:
    """A `#commit` that proves nothing: its ops are left out. `reason` is a stable code:
    `no-blocks` (a `tooBig` commit, or blocks stripped), a `commit.Unproven` reason, or
    `bad-signature` / `signing-key-unavailable` once the signature is checked. The repo's own
    host still has the truth: list the repo again."""

    seq: int
    did: Did
    reason: str
    detail: str
    time: str


@dataclass(frozen=True, slots=True)
class InfoEvent:
    """An informational frame, e.g. `OutdatedCursor` (the backfill starts later than asked)."""

    name: str
    message: str | None


FirehoseEvent = RecordOp | IdentityEvent | AccountEvent | SyncEvent | UnverifiedCommit | InfoEvent


@dataclass(frozen=True, slots=True)
class Batch:
    """The events of one frame. Persist `seq` (when not None) once they are processed.
    `commit`: the signed commit that proved the frame's ops, its signature not yet checked
    (see `CommitSignatures`)."""

    seq: int | None
    events: tuple[FirehoseEvent, ...]
    commit: SignedCommit | None = None
