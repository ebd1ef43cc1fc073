"""One record from a firehose or a PDS listing → an indexable row, or the reason it is not."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from cocore.canonical import CanonicalError, canonicalize, encode_checked
from cocore.lexicon import LexiconRegistry, default_registry, ids
from cocore.syntax import is_tid

from .columns import columns_for
from .rules import ownership_problem

DEFAULT_MAX_RECORD_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class Accepted:
    body: bytes  # canonical JSON
    columns: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: str  # low-cardinality: a Prometheus label
    detail: str  # one line for the rejections table and the log


class RecordValidator:
    """Lexicon, record key, size and ownership checks; pure and thread-safe."""

    def __init__(
        self,
        *,
        exchanges: Collection[str] | None = None,
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
        registry: LexiconRegistry | None = None,
    ) -> None:
        self.exchanges = frozenset(exchanges) if exchanges is not None else None
        self.max_record_bytes = max_record_bytes
        self._registry = registry if registry is not None else default_registry()

    def check(
        self, collection: str, repo: str, rkey: str, record: Mapping[str, Any]
    ) -> Accepted | Rejected:
        key_problem = _rkey_problem(collection, rkey)
        if key_problem is not None:
            return key_problem
        if not self._registry.certify_record(collection, record):
            return self._check_slowly(collection, repo, record)
        # The generated fast path has shown the record lexicon-valid and canonical in shape
        # (one walk instead of three): encoding and the ownership rules are what is left.
        try:
            body = encode_checked(record)
        except CanonicalError as e:  # a lone surrogate in an undeclared field
            return Rejected("not-canonical", f"record is not canonical JSON: {e.message}")
        if len(body) > self.max_record_bytes:
            return self._too_large(body)
        return self._owned(collection, repo, record, body)

    def _check_slowly(
        self, collection: str, repo: str, record: Mapping[str, Any]
    ) -> Accepted | Rejected:
        """Every check in turn, so a bad record gets the first reason and its exact detail."""
        try:
            body = canonicalize(record)
        except CanonicalError as e:
            return Rejected("not-canonical", f"record is not canonical JSON: {e.message}")
        if len(body) > self.max_record_bytes:
            return self._too_large(body)
        issues = self._registry.validate_record(collection, record)
        if issues:
            first = issues[0]
            return Rejected("lexicon-invalid", f"{first.path or '(record)'}: {first.message}")
        return self._owned(collection, repo, record, body)

    def _owned(
        self, collection: str, repo: str, record: Mapping[str, Any], body: bytes
    ) -> Accepted | Rejected:
        problem = ownership_problem(collection, repo, record, self.exchanges)
        if problem is not None:
            return Rejected("owner-mismatch", problem)
        return Accepted(body, columns_for(collection, record))

    def _too_large(self, body: bytes) -> Rejected:
        return Rejected("too-large", f"record is {len(body)} bytes (limit {self.max_record_bytes})")


def _rkey_problem(collection: str, rkey: str) -> Rejected | None:
    if collection not in ids.RECORD_NSIDS:
        return Rejected("unknown-collection", f"{collection} is not a cocore record type")
    if collection == ids.ACCOUNT_PROFILE:
        ok = rkey == "self"
        return None if ok else Rejected("rkey-invalid", "a profile's record key must be 'self'")
    if not is_tid(rkey):
        return Rejected("rkey-invalid", f"{collection} records are keyed by TID, got {rkey[:20]!r}")
    return None
