"""Who is calling: the operator, a trusted service (possibly acting for a DID), or a DID itself.

Credentials arrive as `authorization: Bearer <token>` metadata, so an operator can use
grpcurl (`-H 'authorization: Bearer …'`). Static tokens are compared in constant time over
their SHA-256 digests; anything shaped like a JWT is checked as an ATProto service-auth
token addressed to the exchange's DID and bound (`lxm`) to the method being called.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from cocore.atproto import ServiceAuthError, ServiceAuthVerifier
from cocore.syntax import InvalidSyntaxError, parse_did

from .errors import BadCredentials, MissingCredentials, NotOwner, OperatorOnly, ServiceOnly

ACTOR_HEADER = "x-cocore-actor-did"


class Role(StrEnum):
    OPERATOR = "operator"
    SERVICE = "service"
    OWNER = "owner"


@dataclass(frozen=True, slots=True)
class Caller:
    role: Role
    name: str  # "operator", the service's name, or the owner's DID
    acting_for: str | None = None  # the DID a service acts for, or the owner's own DID


def method_lxm(method: str) -> str:
    """`/cocore.exchange.v1.Exchange/GetBalance` → `cocore.exchange.v1.Exchange.GetBalance`."""
    return method.strip("/").replace("/", ".")


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class Authenticator:
    def __init__(
        self,
        operator_token: str,
        service_tokens: Iterable[tuple[str, str]],
        verifier: ServiceAuthVerifier | None,
    ) -> None:
        self._operator = _digest(operator_token)
        self._services = [(name, _digest(token)) for name, token in service_tokens]
        self._verifier = verifier

    async def authenticate(
        self, metadata: Iterable[tuple[str, str | bytes]], method: str
    ) -> Caller:
        headers = {k.lower(): v for k, v in metadata if isinstance(v, str)}
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise MissingCredentials("send `authorization: Bearer <token>`")
        token = token.strip()
        digest = _digest(token)
        if hmac.compare_digest(digest, self._operator):
            return Caller(Role.OPERATOR, "operator", headers.get(ACTOR_HEADER))
        matched = None
        for name, expected in self._services:  # every comparison runs: constant time
            if hmac.compare_digest(digest, expected):
                matched = name
        if matched is not None:
            return Caller(Role.SERVICE, matched, _actor(headers.get(ACTOR_HEADER)))
        if token.count(".") == 2 and self._verifier is not None:
            try:
                claims = await self._verifier.verify(token, lxm=method_lxm(method))
            except ServiceAuthError as e:
                raise BadCredentials(f"service-auth token refused ({e.code})") from e
            return Caller(Role.OWNER, str(claims.iss), str(claims.iss))
        raise BadCredentials("unknown bearer token")


def _actor(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return str(parse_did(value))
    except InvalidSyntaxError as e:
        raise BadCredentials(f"{ACTOR_HEADER} is not a DID") from e


def require_operator(caller: Caller) -> None:
    if caller.role is not Role.OPERATOR:
        raise OperatorOnly("this call is for the exchange's operator")


def require_service(caller: Caller) -> None:
    if caller.role is Role.OWNER:
        raise ServiceOnly("this call is for trusted services (the gateway)")


def require_owner(caller: Caller, did: str) -> None:
    """The DID itself, a service acting for it, or the operator."""
    if caller.role is Role.OPERATOR:
        return
    if caller.acting_for != did:
        raise NotOwner("only the account's owner (or a service acting for it) may read this")
