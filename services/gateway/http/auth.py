"""Who is calling: an API key (bearer, or vouched for by Envoy), or a service-auth JWT.

Envoy's ext_authz checks the key at the edge and adds `x-cocore-did`, `x-cocore-key-id` and
`x-cocore-edge`; the gateway believes those headers only when `x-cocore-edge` equals the
shared edge secret (constant-time compare), so a client talking to the gateway directly
cannot claim a DID. Without them, the gateway checks the bearer key itself.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from starlette.requests import Request

from cocore.atproto import ServiceAuthError, ServiceAuthVerifier
from cocore.crypto import ApiKeyError, parse_api_key

from ..errors import InvalidApiKey
from ..keys import KeyInfo, KeyStore
from ..paid import Caller
from ..replay import ReplayGuard

EDGE_HEADER, DID_HEADER, KEY_HEADER = "x-cocore-edge", "x-cocore-did", "x-cocore-key-id"


@dataclass(frozen=True, slots=True)
class Principal:
    """The owner of a call to the account procedures."""

    did: str
    key: KeyInfo | None  # None: a service-auth JWT


class Authenticator:
    def __init__(
        self, keys: KeyStore, edge_secret: str, verifier: ServiceAuthVerifier, replay: ReplayGuard
    ) -> None:
        self.keys = keys
        self._edge_secret = edge_secret.encode()
        self.verifier = verifier
        self.replay = replay

    async def caller(self, request: Request) -> Caller:
        """An API-key caller (the inference routes)."""
        key = await self._edge_key(request)
        if key is None:
            token = bearer(request)
            if token is None:
                raise InvalidApiKey("missing API key: send `Authorization: Bearer cocore-…`")
            key = await self.keys.resolve(token)
        if key is None:
            raise InvalidApiKey("invalid, revoked or expired API key")
        self.keys.touch(key.id)
        return Caller(key.did, key)

    async def principal(self, request: Request, lxm: str) -> Principal:
        """A key, or a service-auth JWT bound to the method `lxm` (single use)."""
        token = bearer(request)
        if await self._edge_key(request) is not None or _is_key(token):
            caller = await self.caller(request)
            return Principal(caller.did, caller.key)
        if token is None:
            raise InvalidApiKey("authentication required: an API key or a service-auth JWT")
        try:
            claims = await self.verifier.verify(token, lxm)
        except ServiceAuthError as e:
            raise InvalidApiKey(f"service token refused: {e.message}", code=e.code) from None
        self.replay.check(str(claims.iss), claims.jti, claims.exp)
        return Principal(str(claims.iss), None)

    async def _edge_key(self, request: Request) -> KeyInfo | None:
        vouched = request.headers.get(EDGE_HEADER)
        if vouched is None:
            return None
        if not hmac.compare_digest(vouched.encode(), self._edge_secret):
            raise InvalidApiKey("untrusted edge header")
        key = await self.keys.by_id(request.headers.get(KEY_HEADER, ""))
        if key is None or key.did != request.headers.get(DID_HEADER):
            raise InvalidApiKey("invalid, revoked or expired API key")
        return key


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidApiKey("the Authorization header must be `Bearer <key>`")
    return token.strip()


def _is_key(token: str | None) -> bool:
    if token is None or not token.startswith("cocore-"):
        return False
    try:
        parse_api_key(token)
    except ApiKeyError:
        return True  # a malformed key is still a key: refuse it as one
    return True
