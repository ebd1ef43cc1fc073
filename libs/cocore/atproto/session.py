"""Account creation, login and token refresh against a PDS (`com.atproto.server.*`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cocore.syntax import Did, parse_did

from . import _parse as p
from .errors import XrpcExpiredToken
from .xrpc import XrpcClient

T = TypeVar("T")

CREATE_ACCOUNT = "com.atproto.server.createAccount"
CREATE_SESSION = "com.atproto.server.createSession"
REFRESH_SESSION = "com.atproto.server.refreshSession"


@dataclass(frozen=True, slots=True)
class Session:
    """One login: the account and its two bearer tokens (never printed)."""

    did: Did
    handle: str
    access_jwt: str = field(repr=False)
    refresh_jwt: str = field(repr=False)


def session_from(body: Any, what: str) -> Session:
    b = p.as_object(body, what)
    return Session(
        did=p.field(b, "did", parse_did, what),
        handle=p.field(b, "handle", p.text, what),
        access_jwt=p.field(b, "accessJwt", p.text, what),
        refresh_jwt=p.field(b, "refreshJwt", p.text, what),
    )


async def create_account(
    xrpc: XrpcClient, handle: str, email: str, password: str, *, recovery_key: str | None = None
) -> Session:
    """Create an account on a PDS that needs no invite (the local dev stack), logged in.

    `recovery_key` (a did:key) becomes the new did:plc's first rotation key, so its holder
    can later sign PLC operations for the account without the PDS.
    """
    body = {"handle": handle, "email": email, "password": password}
    if recovery_key is not None:
        body["recoveryKey"] = recovery_key
    return session_from(await xrpc.procedure(CREATE_ACCOUNT, body), CREATE_ACCOUNT)


async def create_session(xrpc: XrpcClient, identifier: str, password: str) -> Session:
    """Log in with a handle or a DID."""
    body = {"identifier": identifier, "password": password}
    return session_from(await xrpc.procedure(CREATE_SESSION, body), CREATE_SESSION)


async def refresh_session(xrpc: XrpcClient, refresh_jwt: str) -> Session:
    """Trade the refresh token for a new token pair (the old refresh token stops working)."""
    return session_from(await xrpc.procedure(REFRESH_SESSION, auth=refresh_jwt), REFRESH_SESSION)


SessionListener = Callable[[Session], Awaitable[None] | None]


class SessionManager:
    """Holds the current session and refreshes it once when the PDS says `ExpiredToken`."""

    def __init__(
        self, xrpc: XrpcClient, session: Session, on_change: SessionListener | None = None
    ) -> None:
        self._xrpc = xrpc
        self._session = session
        self._on_change = on_change
        self._lock = asyncio.Lock()

    @property
    def session(self) -> Session:
        return self._session

    async def refresh(self, stale_access_jwt: str | None = None) -> Session:
        """Refresh now; when `stale_access_jwt` is given, only if no other task already did."""
        async with self._lock:
            if stale_access_jwt is not None and self._session.access_jwt != stale_access_jwt:
                return self._session
            self._session = await refresh_session(self._xrpc, self._session.refresh_jwt)
            if self._on_change is not None:
                pending = self._on_change(self._session)
                if pending is not None:
                    await pending
            return self._session

    async def call(self, fn: Callable[[str], Awaitable[T]]) -> T:
        """Run `fn(access_jwt)`; on an expired token refresh and run it once more."""
        token = self._session.access_jwt
        try:
            return await fn(token)
        except XrpcExpiredToken:
            fresh = await self.refresh(stale_access_jwt=token)
            return await fn(fresh.access_jwt)
