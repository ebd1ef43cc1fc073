"""Rotating the credentials key: old blobs still open, are sealed again under the new key (on
read and in one pass at start), and nothing a member wrote meanwhile is overwritten."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from cocore.atproto import IdentityResolver
from cocore.rpc import ConfigError
from cocore.storage import Database, upgrade
from services.gateway import accounts
from services.gateway.accounts import Account, AccountStore
from services.gateway.config import GatewayConfig
from services.gateway.credentials import CredentialBox, Credentials
from services.gateway.db import AccountRow
from services.gateway.errors import Unavailable
from services.gateway.server import MIGRATIONS

OLD, NEW, LOST = b"o" * 32, b"n" * 32, b"l" * 32
NOW = datetime(2026, 11, 1, tzinfo=UTC)


def _did(i: int) -> str:
    return "did:plc:" + f"{i:024d}".replace("0", "a").replace("1", "b")[:24]


def _creds(i: int) -> Credentials:
    return Credentials(f"member{i}.test", f"app-pass-{i}", f"access-{i}", f"refresh-{i}")


def test_a_rotating_box_opens_old_blobs_and_says_they_are_stale() -> None:
    old_blob = CredentialBox(OLD).seal(_did(1), _creds(1))
    rotating = CredentialBox(NEW, [OLD])
    assert rotating.rotating and not CredentialBox(NEW).rotating
    assert rotating.unseal(_did(1), old_blob) == (_creds(1), True)
    new_blob = rotating.seal(_did(1), _creds(1))
    assert rotating.unseal(_did(1), new_blob) == (_creds(1), False)
    assert CredentialBox(NEW).open(_did(1), new_blob) == _creds(1)  # sealed with the new key
    with pytest.raises(Unavailable):
        CredentialBox(NEW).open(_did(1), old_blob)  # without the old key it stays shut
    with pytest.raises(Unavailable):
        rotating.open(_did(2), old_blob)  # still bound to its DID under the old key
    assert not CredentialBox(NEW, [NEW]).rotating  # the current key listed again is no rotation


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    await upgrade(db_url, MIGRATIONS)
    async with Database.from_url(db_url) as db:
        yield db


def _store(db: Database, box: CredentialBox) -> AccountStore:
    return AccountStore(db, box, lambda: NOW, IdentityResolver("http://127.0.0.1:9"))


async def _blobs(db: Database) -> dict[str, bytes]:
    async with db.session() as session:
        rows = (await session.execute(select(AccountRow.did, AccountRow.credentials))).all()
    return {did: blob for did, blob in rows}


async def test_reseal_all_moves_every_login_to_the_new_key(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(accounts, "RESEAL_PAGE", 16)
    before = _store(database, CredentialBox(OLD))
    for i in range(45):  # several pages
        await before.save(Account(_did(i), f"member{i}.test", "http://pds.test"), _creds(i))
    lost = _store(database, CredentialBox(LOST))
    await lost.save(Account(_did(999), "lost.test", "http://pds.test"), _creds(999))
    lost_blob = (await _blobs(database))[_did(999)]

    after = _store(database, CredentialBox(NEW, [OLD]))
    done = await after.reseal_all()
    assert (done.current, done.resealed, done.unreadable) == (0, 45, 1)
    only_new = CredentialBox(NEW)
    blobs = await _blobs(database)
    for i in range(45):
        assert only_new.open(_did(i), blobs[_did(i)]) == _creds(i)
    assert blobs[_did(999)] == lost_blob  # untouched: its member logs in again
    again = await after.reseal_all()
    assert (again.current, again.resealed, again.unreadable) == (45, 0, 1)


async def test_a_read_reseals_and_a_newer_login_is_never_overwritten(database: Database) -> None:
    old_store = _store(database, CredentialBox(OLD))
    account = Account(_did(1), "member1.test", "http://pds.test")
    await old_store.save(account, _creds(1))
    stale_blob = (await _blobs(database))[_did(1)]

    rotating = _store(database, CredentialBox(NEW, [OLD]))
    got = await rotating.get(_did(1))
    assert got == (account, _creds(1))
    assert CredentialBox(NEW).open(_did(1), (await _blobs(database))[_did(1)]) == _creds(1)

    # A member logs in again between a reader's read and its reseal: the login stays.
    fresh = Credentials("member1.test", "new-pass", "a2", "r2")
    await rotating.save(account, fresh)
    await rotating._reseal(_did(1), stale_blob, _creds(1))
    assert CredentialBox(NEW).open(_did(1), (await _blobs(database))[_did(1)]) == fresh


def test_config_reads_the_old_keys_and_refuses_bad_ones() -> None:
    new, old = base64.b64encode(NEW).decode(), base64.b64encode(OLD).decode()
    env = {"COCORE_GATEWAY_CREDENTIALS_KEY": new,
           "COCORE_GATEWAY_CREDENTIALS_OLD_KEYS": f"{old}, {new}"}  # fmt: skip
    config = GatewayConfig.from_env(env)
    assert config.credentials_old_key_bytes == (OLD, NEW)
    assert GatewayConfig.from_env({}).credentials_old_key_bytes == ()
    for bad in ("c2hvcnQ=", "not base64!"):
        with pytest.raises(ConfigError, match="CREDENTIALS_OLD_KEYS"):
            GatewayConfig.from_env({"COCORE_GATEWAY_CREDENTIALS_OLD_KEYS": bad})
