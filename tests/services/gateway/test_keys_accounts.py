"""API keys (hash-only storage, revocation, expiry, batching), sealed credentials, limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from cocore.crypto import api_key_hash
from cocore.storage import Database, upgrade
from services.gateway.credentials import CredentialBox, Credentials
from services.gateway.db import ApiKeyRow
from services.gateway.errors import InvalidApiKey, RateLimited, Unavailable
from services.gateway.keys import KeyStore, NewKey
from services.gateway.ratelimit import RateLimiter
from services.gateway.replay import ReplayGuard
from services.gateway.server import MIGRATIONS

DID, OTHER = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)
        self.mono = 0.0

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.mono += seconds


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[tuple[KeyStore, Clock]]:
    await upgrade(db_url, MIGRATIONS)
    clock = Clock()
    async with Database.from_url(db_url) as db:
        yield KeyStore(db, clock, cache_ttl_s=30, monotonic=lambda: clock.mono), clock


async def test_only_the_hash_is_stored_and_the_key_resolves(store: tuple[KeyStore, Clock]) -> None:
    keys, _ = store
    view, secret = await keys.create(DID, NewKey("laptop", requests_per_minute=5, budget=100))
    assert secret.startswith("cocore-") and len(secret) == 50
    assert view["prefix"] == secret[:15] and "secret" not in view
    assert (view["requestsPerMinute"], view["budget"], view["spent"]) == (5, 100, 0)
    async with keys.db.session() as session:
        row = await session.scalar(select(ApiKeyRow))
    assert row is not None and row.key_hash == api_key_hash(secret)
    assert secret not in repr(row.__dict__)
    info = await keys.resolve(secret)
    assert info is not None and info.did == DID
    assert await keys.resolve(secret[:-1] + ("A" if secret[-1] != "A" else "E")) is None
    assert await keys.resolve("not-a-key") is None


async def test_revoke_is_immediate_and_scoped_delete_removes(store: tuple[KeyStore, Clock]) -> None:
    keys, _ = store
    view, secret = await keys.create(DID, NewKey("a"))
    assert await keys.resolve(secret) is not None  # now cached
    assert await keys.revoke(OTHER, view["id"]) is False  # not the owner's
    assert await keys.resolve(secret) is not None
    assert await keys.revoke(DID, view["id"]) is True
    assert await keys.revoke(DID, view["id"]) is False  # idempotent
    assert await keys.resolve(secret) is None
    assert (await keys.list_keys(DID))[0]["revokedAt"]
    assert await keys.delete(OTHER, view["id"]) == 0
    assert await keys.delete(DID, view["id"]) == 1
    assert await keys.list_keys(DID) == []


async def test_expiry_listing_and_batched_usage(store: tuple[KeyStore, Clock]) -> None:
    keys, clock = store
    _, short = await keys.create(DID, NewKey("short", expires_at=clock.now + timedelta(hours=1)))
    clock.tick(1)
    _, secret = await keys.create(DID, NewKey("long", budget=50))
    clock.tick(7200)
    assert await keys.resolve(short) is None
    info = await keys.resolve(secret)
    assert info is not None
    names = [k["name"] for k in await keys.list_keys(DID)]
    assert names == ["long", "short"]  # newest first
    keys.touch(info.id)
    keys.spend(info.id, 20)
    assert keys.spent(info) == 20
    async with keys.db.session() as session:  # nothing written per request
        row = await session.get(ApiKeyRow, info.id)
        assert row is not None and row.last_used_at is None and row.spent == 0
    await keys.flush()
    async with keys.db.session() as session:
        row = await session.get(ApiKeyRow, info.id)
        assert row is not None and row.last_used_at == clock.now and row.spent == 20
    fresh = await keys.resolve(secret)
    assert fresh is not None and keys.spent(fresh) == 20
    assert (await keys.list_keys(DID))[0]["lastUsedAt"]
    async with keys.db.transaction() as session:  # the flush kept the cache: no read per request
        row = await session.get(ApiKeyRow, info.id)
        assert row is not None
        row.spent = 999
    keys.spend(info.id, 5)
    await keys.flush()
    again = await keys.resolve(secret)
    assert again is not None and keys.spent(again) == 25


def test_credentials_are_sealed_to_their_did() -> None:
    box = CredentialBox(b"k" * 32)
    creds = Credentials("did:plc:x", "app-pass", "access", "refresh")
    blob = box.seal(DID, creds)
    assert b"app-pass" not in blob and b"refresh" not in blob
    assert box.open(DID, blob) == creds
    assert "app-pass" not in repr(creds)
    with pytest.raises(Unavailable):
        box.open(OTHER, blob)  # a row copied onto another account does not open
    with pytest.raises(Unavailable):
        CredentialBox(b"j" * 32).open(DID, blob)


def test_rate_limits_refill_per_minute() -> None:
    now = [0.0]
    limiter = RateLimiter(lambda: now[0])
    for _ in range(3):
        limiter.admit("k", rpm=3, tpm=0)
    with pytest.raises(RateLimited) as caught:
        limiter.admit("k", rpm=3, tpm=0)
    assert caught.value.details["retry_after_s"] == 20
    now[0] += 20
    limiter.admit("k", rpm=3, tpm=0)
    limiter.admit("t", rpm=0, tpm=100)
    limiter.record_tokens("t", 150, tpm=100)
    with pytest.raises(RateLimited):
        limiter.admit("t", rpm=0, tpm=100)
    now[0] += 60
    limiter.admit("t", rpm=0, tpm=100)
    limiter.admit("free", rpm=0, tpm=0)  # 0 means unlimited


def test_service_tokens_are_single_use() -> None:
    now = [1000.0]
    guard = ReplayGuard(lambda: now[0])
    guard.check("did:plc:a", "j1", exp=1060)
    guard.check("did:plc:b", "j1", exp=1060)  # another issuer's jti
    with pytest.raises(InvalidApiKey) as caught:
        guard.check("did:plc:a", "j1", exp=1060)
    assert caught.value.code == "jwt_replayed"
    with pytest.raises(InvalidApiKey):
        guard.check("did:plc:a", None, exp=1060)
