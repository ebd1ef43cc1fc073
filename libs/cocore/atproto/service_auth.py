"""ATProto inter-service auth JWTs: fetch one from a PDS, mint one locally, verify one."""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from cocore.syntax import Did, InvalidSyntaxError, Nsid, parse_did

from . import _parse as p
from .client import AtprotoClient
from .errors import (
    DidNotFound,
    InvalidDidDocument,
    InvalidKey,
    JwtBadAudience,
    JwtBadIssuedAt,
    JwtBadIssuer,
    JwtBadMethod,
    JwtBadSignature,
    JwtExpired,
    JwtMalformed,
    UnsupportedDid,
)
from .keys import AtprotoKey, SigningKey

GET_SERVICE_AUTH = "com.atproto.server.getServiceAuth"
_FORBIDDEN_TYP = ("at+jwt", "refresh+jwt", "dpop+jwt")  # session / OAuth tokens, never service auth
_ALGS = ("ES256", "ES256K")
MAX_TOKEN_CHARS = 8192


@dataclass(frozen=True, slots=True)
class ServiceAuthClaims:
    """A verified token: who sent it (`iss`, `service` fragment if any), for what, until when."""

    iss: Did
    service: str | None
    aud: str
    lxm: str | None
    exp: int
    iat: int | None
    jti: str | None


class KeyResolver(Protocol):
    async def atproto_key(self, did: Did, *, fresh: bool = False) -> AtprotoKey: ...


async def get_service_auth(
    client: AtprotoClient, aud: str, lxm: Nsid | None = None, exp: int | None = None
) -> str:
    """Ask the logged-in account's PDS for a token addressed to service `aud`."""
    body = await client.query(GET_SERVICE_AUTH, {"aud": aud, "lxm": lxm, "exp": exp})
    return p.field(p.as_object(body, GET_SERVICE_AUTH), "token", p.text, GET_SERVICE_AUTH)


def mint_service_jwt(
    key: SigningKey,
    *,
    iss: str,
    aud: str,
    lxm: str | None,
    now: int,
    ttl_s: int = 60,
    jti: str | None = None,
) -> str:
    """A service-auth JWT signed by a key this service holds (ES256 or ES256K, low-S)."""
    header = {"typ": "JWT", "alg": key.jwt_alg}
    payload: dict[str, Any] = {"iat": now, "iss": iss, "aud": aud, "exp": now + ttl_s}
    if lxm is not None:
        payload["lxm"] = lxm
    payload["jti"] = jti or secrets.token_hex(16)
    signing_input = f"{_b64url_json(header)}.{_b64url_json(payload)}"
    return f"{signing_input}.{_b64url(key.sign(signing_input.encode('ascii')))}"


class ServiceAuthVerifier:
    """Checks tokens addressed to `service_did`; issuer keys come from DID resolution."""

    def __init__(
        self,
        service_did: str,
        keys: KeyResolver,
        *,
        clock: Callable[[], float] = time.time,
        max_skew_s: int = 30,
        max_lifetime_s: int = 3600,
    ) -> None:
        self.service_did = service_did
        self._keys = keys
        self._clock = clock
        self._skew = max_skew_s
        self._max_lifetime = max_lifetime_s

    async def verify(self, token: str, lxm: str | None = None) -> ServiceAuthClaims:
        """The token's claims, or a `ServiceAuthError` subclass naming the failed check.

        `lxm`, when given, is the method being called: the token must be bound to it.
        """
        header, payload, signing_input, signature = _split(token)
        claims = self._check_claims(payload, lxm)
        await self._check_signature(header, claims.iss, signing_input, signature)
        return claims

    def _check_claims(self, payload: Mapping[str, Any], lxm: str | None) -> ServiceAuthClaims:
        now = int(self._clock())
        exp, iat = _int_claim(payload, "exp", True), _int_claim(payload, "iat", False)
        if now > exp + self._skew:
            raise JwtExpired("service token expired", details={"exp": exp, "now": now})
        if iat is not None and iat > now + self._skew:
            raise JwtBadIssuedAt("service token issued in the future", details={"iat": iat})
        if exp - (iat if iat is not None else now) > self._max_lifetime:
            raise JwtBadIssuedAt(f"service token lives longer than {self._max_lifetime} s")
        aud = payload.get("aud")
        if aud != self.service_did:
            raise JwtBadAudience("service token is addressed to another service")
        token_lxm = _opt_str_claim(payload, "lxm")
        if lxm is not None and token_lxm != lxm:
            reason = "has no lxm" if token_lxm is None else "is bound to another method"
            raise JwtBadMethod(f"service token {reason}; this call is {lxm}")
        iss, service = _issuer(payload.get("iss"))
        return ServiceAuthClaims(
            iss, service, aud, token_lxm, exp, iat, _opt_str_claim(payload, "jti")
        )

    async def _check_signature(
        self, header: Mapping[str, Any], iss: Did, signing_input: bytes, signature: bytes
    ) -> None:
        key = await self._issuer_key(iss, fresh=False)
        if _signed_by(key, header, signing_input, signature):
            return
        fresh = await self._issuer_key(iss, fresh=True)  # the issuer may have rotated its key
        if fresh == key or not _signed_by(fresh, header, signing_input, signature):
            raise JwtBadSignature("service token signature does not match the issuer's key")

    async def _issuer_key(self, iss: Did, *, fresh: bool) -> AtprotoKey:
        try:
            return await self._keys.atproto_key(iss, fresh=fresh)
        except (DidNotFound, UnsupportedDid, InvalidDidDocument, InvalidKey) as e:
            raise JwtBadIssuer(f"cannot get the issuer's signing key ({e.code})") from e


def _signed_by(key: AtprotoKey, header: Mapping[str, Any], msg: bytes, sig: bytes) -> bool:
    return header.get("alg") == key.jwt_alg and key.verify(msg, sig)


def _split(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
        raise JwtMalformed("a JWT is three base64url parts joined by '.'")
    head_b64, payload_b64, sig_b64 = token.split(".")
    header, payload = _json_part(head_b64, "header"), _json_part(payload_b64, "payload")
    if header.get("alg") not in _ALGS:
        raise JwtMalformed("service token alg must be ES256 or ES256K")
    if header.get("typ") in _FORBIDDEN_TYP:
        raise JwtMalformed("a session or OAuth token is not a service token")
    signature = _unb64url(sig_b64, "signature")
    return header, payload, f"{head_b64}.{payload_b64}".encode("ascii"), signature


def _json_part(part: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(_unb64url(part, what))
    except ValueError as e:
        raise JwtMalformed(f"JWT {what} is not JSON") from e
    if not isinstance(value, dict):
        raise JwtMalformed(f"JWT {what} is not a JSON object")
    return value


def _unb64url(part: str, what: str) -> bytes:
    if not part.isascii() or "=" in part:
        raise JwtMalformed(f"JWT {what} is not unpadded base64url")
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError) as e:
        raise JwtMalformed(f"JWT {what} is not base64url") from e


def _int_claim(payload: Mapping[str, Any], key: str, required: bool) -> Any:
    value = payload.get(key)
    if value is None and not required:
        return None
    if type(value) is not int:
        raise JwtMalformed(f"JWT claim {key} must be an integer")
    return value


def _opt_str_claim(payload: Mapping[str, Any], key: str) -> str | None:
    value = payload.get(key)
    if value is not None and not isinstance(value, str):
        raise JwtMalformed(f"JWT claim {key} must be a string")
    return value


def _issuer(value: Any) -> tuple[Did, str | None]:
    if not isinstance(value, str):
        raise JwtBadIssuer("service token has no iss")
    did, _, service = value.partition("#")
    try:
        return parse_did(did), service or None
    except InvalidSyntaxError as e:
        raise JwtBadIssuer("service token iss is not a DID") from e


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _b64url_json(value: Mapping[str, Any]) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode("utf-8"))
