"""API keys: mint (secret shown once), list, revoke, delete, and resolve a bearer key.

Only `sha256(key)` and the display prefix are stored. Lookups are cached for a short TTL
(a revocation through this process is immediate; other replicas notice within the TTL), and
`last_used_at` is batched in memory and flushed periodically instead of one write per
request (§6 item 19).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update

from cocore.crypto import ApiKeyError, api_key_hash, api_key_prefix, generate_api_key
from cocore.storage import Database
from cocore.syntax import format_datetime

from .cache import TtlCache
from .db import ApiKeyRow

NEGATIVE_TTL_S = 5.0


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A live key as the request path sees it (never the secret)."""

    id: str
    did: str
    expires_at: datetime | None
    revoked: bool
    requests_per_minute: int | None
    tokens_per_minute: int | None
    budget: int | None
    spent: int

    def usable(self, now: datetime) -> bool:
        return not self.revoked and (self.expires_at is None or self.expires_at > now)


@dataclass(frozen=True, slots=True)
class NewKey:
    name: str
    expires_at: datetime | None = None
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    budget: int | None = None


class KeyStore:
    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        *,
        cache_ttl_s: float = 30.0,
        rng_bytes: Callable[[int], bytes] = os.urandom,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self._rng = rng_bytes
        self._by_hash: TtlCache[str, KeyInfo | None] = TtlCache(cache_ttl_s, monotonic)
        self._by_id: TtlCache[str, KeyInfo | None] = TtlCache(cache_ttl_s, monotonic)
        self._used: dict[str, datetime] = {}
        self._spent: dict[str, int] = {}

    # ------------------------------------------------------------ management

    async def create(self, did: str, new: NewKey) -> tuple[dict[str, Any], str]:
        secret = generate_api_key(self._rng)
        row = ApiKeyRow(
            id=uuid.UUID(bytes=self._rng(16)).hex, did=did, name=new.name,
            key_hash=api_key_hash(secret), prefix=api_key_prefix(secret),
            created_at=self.clock(), expires_at=new.expires_at, revoked_at=None,
            last_used_at=None, requests_per_minute=new.requests_per_minute,
            tokens_per_minute=new.tokens_per_minute, budget=new.budget, spent=0,
        )  # fmt: skip
        async with self.db.transaction() as session:
            session.add(row)
        self._by_hash.pop(row.key_hash)
        return view(row), secret

    async def list_keys(self, did: str) -> list[dict[str, Any]]:
        async with self.db.session() as session:
            rows = await session.scalars(
                select(ApiKeyRow)
                .where(ApiKeyRow.did == did)
                .order_by(ApiKeyRow.created_at.desc(), ApiKeyRow.id)
            )
            return [view(r, self._used.get(r.id)) for r in rows]

    async def revoke(self, did: str, key_id: str) -> bool:
        async with self.db.transaction() as session:
            result = await session.execute(
                update(ApiKeyRow)
                .where(ApiKeyRow.did == did, ApiKeyRow.id == key_id, ApiKeyRow.revoked_at.is_(None))
                .values(revoked_at=self.clock())
                .returning(ApiKeyRow.key_hash, ApiKeyRow.id)
            )
            rows = [(h, i) for h, i in result.all()]
        self._forget(rows)
        return bool(rows)

    async def delete(self, did: str, key_id: str | None = None) -> int:
        """Delete one key of `did` (or every key when `key_id` is None); returns how many."""
        query = delete(ApiKeyRow).where(ApiKeyRow.did == did)
        if key_id is not None:
            query = query.where(ApiKeyRow.id == key_id)
        async with self.db.transaction() as session:
            result = await session.execute(query.returning(ApiKeyRow.key_hash, ApiKeyRow.id))
            rows = [(h, i) for h, i in result.all()]
        self._forget(rows)
        for _, kid in rows:
            self._used.pop(kid, None)
            self._spent.pop(kid, None)
        return len(rows)

    def _forget(self, rows: list[tuple[str, str]]) -> None:
        for key_hash, key_id in rows:
            self._by_hash.pop(key_hash)
            self._by_id.pop(key_id)

    # ------------------------------------------------------------ the request path

    async def resolve(self, secret: str) -> KeyInfo | None:
        """The live key for a bearer secret, or None (unknown, malformed, revoked, expired)."""
        try:
            digest = api_key_hash(secret)
        except ApiKeyError:
            return None
        found, info = self._by_hash.get(digest)
        if not found:
            info = await self._load(digest)
            self._by_hash.put(digest, info, None if info is not None else NEGATIVE_TTL_S)
        if info is None or not info.usable(self.clock()):
            return None
        return info

    async def by_id(self, key_id: str) -> KeyInfo | None:
        """A key named by Envoy's ext_authz (already authenticated at the edge)."""
        found, info = self._by_id.get(key_id)
        if not found:
            async with self.db.session() as session:
                row = await session.get(ApiKeyRow, key_id)
            info = _info(row) if row is not None else None
            self._by_id.put(key_id, info, None if info is not None else NEGATIVE_TTL_S)
        return info if info is not None and info.usable(self.clock()) else None

    async def _load(self, digest: str) -> KeyInfo | None:
        async with self.db.session() as session:
            row = await session.scalar(select(ApiKeyRow).where(ApiKeyRow.key_hash == digest))
        return _info(row) if row is not None else None

    def touch(self, key_id: str) -> None:
        self._used[key_id] = self.clock()

    def spend(self, key_id: str, amount: int) -> None:
        if amount > 0:
            self._spent[key_id] = self._spent.get(key_id, 0) + amount

    def spent(self, info: KeyInfo) -> int:
        """What the key has spent: the stored total plus what is not flushed yet."""
        return info.spent + self._spent.get(info.id, 0)

    async def flush(self) -> None:
        """Write batched last-used times and spending (one transaction)."""
        used, self._used = self._used, {}
        spent, self._spent = self._spent, {}
        if not used and not spent:
            return
        async with self.db.transaction() as session:
            for key_id, when in used.items():
                await session.execute(
                    update(ApiKeyRow).where(ApiKeyRow.id == key_id).values(last_used_at=when)
                )
            for key_id, amount in spent.items():
                await session.execute(
                    update(ApiKeyRow)
                    .where(ApiKeyRow.id == key_id)
                    .values(spent=ApiKeyRow.spent + amount)
                )

        # Move the flushed spending into the cached snapshots instead of dropping them, so the
        # request path keeps answering from memory. (A snapshot loaded while this transaction
        # committed may count it twice: a budget then looks fuller, never emptier.)
        def moved(info: KeyInfo | None) -> KeyInfo | None:
            if info is None or info.id not in spent:
                return info
            return replace(info, spent=info.spent + spent[info.id])

        self._by_hash.update(moved)
        self._by_id.update(moved)


def _info(row: ApiKeyRow) -> KeyInfo:
    return KeyInfo(
        row.id, row.did, row.expires_at, row.revoked_at is not None, row.requests_per_minute,
        row.tokens_per_minute, row.budget, row.spent,
    )  # fmt: skip


def view(row: ApiKeyRow, last_used: datetime | None = None) -> dict[str, Any]:
    """`dev.cocore.account.defs#apiKeyView` (nulls omitted) plus the gateway's limits."""
    out: dict[str, Any] = {
        "id": row.id, "did": row.did, "name": row.name, "prefix": row.prefix,
        "createdAt": _ts(row.created_at),
    }  # fmt: skip
    used = last_used or row.last_used_at
    for key, value in (("expiresAt", row.expires_at), ("revokedAt", row.revoked_at),
                       ("lastUsedAt", used)):  # fmt: skip
        if value is not None:
            out[key] = _ts(value)
    for key, number in (("requestsPerMinute", row.requests_per_minute),
                        ("tokensPerMinute", row.tokens_per_minute),
                        ("budget", row.budget)):  # fmt: skip
        if number is not None:
            out[key] = number
    if row.budget is not None:
        out["spent"] = row.spent
    return out


def _ts(moment: datetime) -> str:
    return str(format_datetime(moment))
