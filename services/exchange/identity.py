"""The exchange's identity: its keys, its PDS account, and its settlement key in its DID document.

The exchange is an ordinary account on a PDS (did:plc). It holds a PLC rotation key of its
own, given to the PDS as `recoveryKey` when the account is created, and uses it to sign a
PLC update that adds a `#cocore_exchange` verification method carrying the P-256 settlement
key, so any verifier can find that key from the exchange's DID alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from cocore.atproto import (
    AtprotoClient,
    AtprotoError,
    XrpcClient,
    XrpcUnauthenticated,
    create_account,
)
from cocore.atproto import SigningKey as RotationKey
from cocore.atproto.diddoc import EXCHANGE_KEY_ID
from cocore.atproto.plc import PlcClient, p256_did_key, sign_operation, update_operation
from cocore.crypto import SigningKey
from cocore.errors import AlreadyExists, FailedPrecondition, NotFound
from cocore.keystore import KeyDir
from cocore.storage import Database
from cocore.syntax import Did, parse_did

from . import db, events
from .config import Config

ROTATION_FILE = "plc-rotation-key.pem"


@dataclass(frozen=True)
class Keys:
    settlement: SigningKey
    rotation: RotationKey


def load_keys(config: Config) -> Keys:
    """The settlement key (a KeyDir, or a PEM file) and the PLC rotation key, made on first run."""
    if config.signing_key_pem is not None:
        settlement = SigningKey.from_pem(config.signing_key_pem.read_bytes())
    else:
        try:
            settlement = KeyDir.load(config.key_dir).signing
        except NotFound:
            settlement = KeyDir.create(config.key_dir).signing
    return Keys(settlement, _rotation_key(config.key_dir / ROTATION_FILE))


def _rotation_key(path: Path) -> RotationKey:
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError as e:  # another process made it first
            raise AlreadyExists(f"{path} appeared while being created; start again") from e
        with os.fdopen(fd, "wb") as f:
            f.write(SigningKey.generate().to_pem())
    scalar = SigningKey.from_pem(path.read_bytes()).to_scalar()
    return RotationKey.from_private_bytes("ES256", scalar.to_bytes(32, "big"))


async def login(config: Config, keys: Keys) -> AtprotoClient:
    """Log in as the exchange; in dev, create the account (with our rotation key) if needed."""
    try:
        return await AtprotoClient.login(config.pds_url, config.handle, config.password)
    except XrpcUnauthenticated:
        if not config.create_account:
            raise
    xrpc = XrpcClient(config.pds_url)
    session = await create_account(xrpc, config.handle, config.email, config.password,
                                   recovery_key=keys.rotation.public.did_key)  # fmt: skip
    return AtprotoClient(xrpc, session)


async def known_did(database: Database) -> Did | None:
    async with database.session() as session:
        row = (await session.execute(select(db.IDENTITY.c.did))).first()
    return parse_did(row[0]) if row else None


async def remember(database: Database, did: Did, handle: str) -> None:
    if await known_did(database) == did:
        return
    async with database.transaction() as session:
        await session.execute(db.IDENTITY.delete())
        await session.execute(db.IDENTITY.insert().values(name="exchange", did=did, handle=handle))


async def publish_settlement_key(plc: PlcClient, did: Did, keys: Keys) -> bool:
    """Make the DID document carry `#cocore_exchange`; True when an operation was submitted."""
    last = await plc.last_operation(did)
    wanted = p256_did_key(keys.settlement.public_key)
    methods = dict(last.get("verificationMethods") or {})
    if methods.get(EXCHANGE_KEY_ID) == wanted:
        return False
    if keys.rotation.public.did_key not in (last.get("rotationKeys") or []):
        raise FailedPrecondition(
            f"{did} does not list the exchange's PLC rotation key, so the exchange cannot add "
            "its settlement key to its DID document (create the account with that key as "
            "recoveryKey)",
            code="rotation_key_missing",
        )
    methods[EXCHANGE_KEY_ID] = wanted
    operation = sign_operation(update_operation(last, verificationMethods=methods), keys.rotation)
    await plc.submit(did, operation)
    events.identity_key_published(did)
    return True


async def establish(config: Config, database: Database, keys: Keys) -> Did:
    """The exchange's DID, its settlement key published; works offline once the DID is known.

    With the PDS or PLC down, a DID already known (config or database) is enough to start:
    settlements queue in the outbox until the PDS is back.
    """
    known = config.did or await known_did(database)
    try:
        client = await login(config, keys)
    except AtprotoError:
        if known is None:
            raise
        return known
    try:
        did = client.did
        await remember(database, did, config.handle)
        plc = PlcClient(config.plc_url)
        try:
            await publish_settlement_key(plc, did, keys)
        except AtprotoError as e:  # retried at the next start; settling does not need it
            events.source_error("plc", e.code)
        finally:
            await plc.aclose()
    finally:
        await client.aclose()
    return did
