"""Accounts: a DID's PDS session kept encrypted at rest, refreshed, and a client to write with.

The session is refreshed when the PDS says the token expired (and the new tokens are written
back encrypted); if refreshing fails the stored app password logs in afresh.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import delete, select, update

from cocore.atproto import (
    AtprotoClient,
    AtprotoError,
    IdentityResolver,
    Session,
    XrpcClient,
    XrpcUnauthenticated,
)
from cocore.storage import Database

from .credentials import CredentialBox, Credentials
from .db import AccountRow
from .errors import Forbidden, Unavailable

T = TypeVar("T")
RESEAL_PAGE = 200


@dataclass(frozen=True, slots=True)
class Resealed:
    """What a pass over the stored logins found: `resealed` moved to the current key,
    `unreadable` opens under no configured key (its member must log in again)."""

    current: int = 0
    resealed: int = 0
    unreadable: int = 0


@dataclass(frozen=True, slots=True)
class Account:
    did: str
    handle: str
    pds_url: str


class AccountStore:
    def __init__(
        self,
        db: Database,
        box: CredentialBox,
        clock: Callable[[], datetime],
        resolver: IdentityResolver,
    ) -> None:
        self.db = db
        self.box = box
        self.clock = clock
        self._resolver = resolver  # its transport checks where a stored PDS URL resolves to
        self._clients: dict[str, AtprotoClient] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def save(self, account: Account, credentials: Credentials) -> None:
        now = self.clock()
        async with self.db.transaction() as session:
            row = await session.get(AccountRow, account.did)
            blob = self.box.seal(account.did, credentials)
            if row is None:
                session.add(AccountRow(did=account.did, handle=account.handle,
                                       pds_url=account.pds_url, credentials=blob,
                                       created_at=now, updated_at=now))  # fmt: skip
            else:
                row.handle, row.pds_url, row.credentials = account.handle, account.pds_url, blob
                row.updated_at = now
        await self._drop_client(account.did)

    async def get(self, did: str) -> tuple[Account, Credentials] | None:
        async with self.db.session() as session:
            row = await session.get(AccountRow, did)
        if row is None:
            return None
        credentials, stale = self.box.unseal(row.did, row.credentials)
        if stale:
            await self._reseal(row.did, row.credentials, credentials)
        return Account(row.did, row.handle, row.pds_url), credentials

    async def reseal_all(self) -> Resealed:
        """Seal every login an older key sealed under the current key (after a rotation;
        once nothing is left the old keys can go). Safe beside live traffic: a row
        rewritten meanwhile is left as it is."""
        counts = {"current": 0, "resealed": 0, "unreadable": 0}
        after = ""
        while True:
            query = (select(AccountRow.did, AccountRow.credentials).where(AccountRow.did > after)
                     .order_by(AccountRow.did).limit(RESEAL_PAGE))  # fmt: skip
            async with self.db.session() as session:
                rows = (await session.execute(query)).all()
            for did, blob in rows:
                try:
                    credentials, stale = self.box.unseal(did, blob)
                except Unavailable:
                    counts["unreadable"] += 1
                    continue
                if stale:
                    await self._reseal(did, blob, credentials)
                counts["resealed" if stale else "current"] += 1
            if len(rows) < RESEAL_PAGE:
                return Resealed(**counts)
            after = rows[-1].did

    async def delete(self, did: str) -> bool:
        async with self.db.transaction() as session:
            result = await session.execute(delete(AccountRow).where(AccountRow.did == did))
        await self._drop_client(did)
        return bool(getattr(result, "rowcount", 0))

    async def with_client(self, did: str, call: Callable[[AtprotoClient], Awaitable[T]]) -> T:
        """Run `call` with the account's logged-in client; re-login once if the session died."""
        client = await self._client(did)
        try:
            return await call(client)
        except XrpcUnauthenticated:
            client = await self._relogin(did)
            return await call(client)

    async def aclose(self) -> None:
        for did in list(self._clients):
            await self._drop_client(did)

    async def _client(self, did: str) -> AtprotoClient:
        client = self._clients.get(did)
        if client is not None:
            return client
        async with self._locks.setdefault(did, asyncio.Lock()):
            client = self._clients.get(did)
            if client is None:
                account, creds = await self._require(did)
                session = Session(account.did, account.handle, creds.access_jwt, creds.refresh_jwt)  # type: ignore[arg-type]
                client = AtprotoClient(
                    XrpcClient(account.pds_url, transport=self._resolver.transport()), session,
                    on_session_change=lambda s: self._store_session(account, creds, s),
                )  # fmt: skip
                self._clients[did] = client
            return client

    async def _relogin(self, did: str) -> AtprotoClient:
        account, creds = await self._require(did)
        await self._drop_client(did)
        try:
            client = await AtprotoClient.login(
                account.pds_url, creds.identifier, creds.password,
                transport=self._resolver.transport(),
            )  # fmt: skip
        except AtprotoError as e:
            raise Forbidden(
                "the stored PDS login no longer works; run `cocore account login` again",
                code="account_login_required",
            ) from e
        await self._store_session(account, creds, client.session)
        self._clients[did] = client
        return client

    async def _store_session(self, account: Account, creds: Credentials, s: Session) -> None:
        fresh = Credentials(creds.identifier, creds.password, s.access_jwt, s.refresh_jwt)
        async with self.db.transaction() as session:
            row = await session.get(AccountRow, account.did)
            if row is not None:
                row.credentials = self.box.seal(account.did, fresh)
                row.updated_at = self.clock()

    async def _reseal(self, did: str, blob: bytes, credentials: Credentials) -> None:
        """`blob` (an older key's) sealed again under the current key, unless it changed."""
        fresh = self.box.seal(did, credentials)
        async with self.db.transaction() as session:
            await session.execute(
                update(AccountRow).where(AccountRow.did == did, AccountRow.credentials == blob)
                .values(credentials=fresh, updated_at=self.clock())
            )  # fmt: skip

    async def _require(self, did: str) -> tuple[Account, Credentials]:
        found = await self.get(did)
        if found is None:
            raise Forbidden(
                "this account has no stored PDS login; run `cocore account login`",
                code="account_login_required",
            )
        return found

    async def _drop_client(self, did: str) -> None:
        client = self._clients.pop(did, None)
        if client is not None:
            await client.aclose()
