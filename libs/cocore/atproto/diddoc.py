"""DID document locations (did:plc, did:web) and the fields cocore reads from a document."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote

from cocore.crypto import CryptoError, PublicKey
from cocore.syntax import Did, Handle, InvalidSyntaxError, parse_handle

from .errors import InvalidDidDocument, InvalidKey, UnsupportedDid
from .keys import AtprotoKey, key_from_verification_method

PDS_SERVICE_TYPE = "AtprotoPersonalDataServer"
_PLC_ID_RE = re.compile(r"[a-z2-7]{24}")
_HOST_RE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(:[0-9]{1,5})?")
_LOOPBACK_RE = re.compile(r"(localhost|127(\.[0-9]{1,3}){3})(:[0-9]{1,5})?")
_SEGMENT_SAFE = "-._~!$&'()*+,;=@"


def did_document_url(did: Did, plc_url: str, *, allow_insecure_loopback: bool = False) -> str:
    """Where a DID's document lives (crypto.md §11); `UnsupportedDid` for other methods.

    `allow_insecure_loopback` lets a did:web on localhost / 127.x resolve over http (dev only).
    """
    if did.method == "plc":
        if not _PLC_ID_RE.fullmatch(did.identifier):
            raise UnsupportedDid("a did:plc identifier is 24 characters of a-z2-7")
        return f"{plc_url.rstrip('/')}/{quote(str(did), safe='')}"
    if did.method == "web":
        return _did_web_url(did, allow_insecure_loopback)
    raise UnsupportedDid(f"DID method {did.method!r} is not supported (only plc and web)")


def _did_web_url(did: Did, allow_insecure_loopback: bool) -> str:
    host_part, *path_parts = did.identifier.split(":")
    host = unquote(host_part)
    if not _HOST_RE.fullmatch(host):
        raise UnsupportedDid("did:web host is not a domain name (with an optional %3A port)")
    segments = [unquote(s) for s in path_parts]
    if any(s in ("", ".", "..") or "/" in s for s in segments):
        raise UnsupportedDid("did:web path segments must be non-empty names")
    secure = not (allow_insecure_loopback and _LOOPBACK_RE.fullmatch(host))
    base = f"{'https' if secure else 'http'}://{host}"
    if not segments:
        return f"{base}/.well-known/did.json"
    return base + "".join(f"/{quote(s, safe=_SEGMENT_SAFE)}" for s in segments) + "/did.json"


def check_document(did: Did, doc: Any) -> dict[str, Any]:
    """The document as a dict, if it is a JSON object whose `id` is the DID we asked for."""
    if not isinstance(doc, dict):
        raise InvalidDidDocument("a DID document is a JSON object")
    if doc.get("id") != did:
        raise InvalidDidDocument("the DID document's id is not the DID that was resolved")
    return doc


def pds_endpoint(doc: Mapping[str, Any]) -> str | None:
    """The first `AtprotoPersonalDataServer` service endpoint, without a trailing `/`."""
    for service in _list(doc, "service"):
        endpoint = service.get("serviceEndpoint")
        if service.get("type") == PDS_SERVICE_TYPE and isinstance(endpoint, str):
            return endpoint.rstrip("/")
    return None


def handle(doc: Mapping[str, Any]) -> Handle | None:
    """The handle claimed in `alsoKnownAs` (`at://<handle>`); not verified against DNS."""
    for aka in doc.get("alsoKnownAs") or []:
        if isinstance(aka, str) and aka.startswith("at://"):
            try:
                return parse_handle(aka[5:])
            except InvalidSyntaxError:
                continue
    return None


def atproto_signing_key(doc: Mapping[str, Any]) -> AtprotoKey:
    """The `#atproto` verification method's key (what repo commits and JWTs are signed with)."""
    did = doc.get("id")
    for method in _list(doc, "verificationMethod"):
        if method.get("id") in ("#atproto", f"{did}#atproto"):
            multibase = method.get("publicKeyMultibase")
            if not isinstance(multibase, str):
                raise InvalidKey("the #atproto verification method has no publicKeyMultibase")
            return key_from_verification_method(str(method.get("type")), multibase)
    raise InvalidKey("the DID document has no #atproto verification method")


def p256_jwk_key(doc: Mapping[str, Any]) -> str | None:
    """The first P-256 `publicKeyJwk` as b64 of the raw 64-byte X‖Y (brokerage/exchange keys)."""
    for method in _list(doc, "verificationMethod"):
        jwk = method.get("publicKeyJwk")
        if not isinstance(jwk, dict) or jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
            continue
        x, y = _b64url_32(jwk.get("x")), _b64url_32(jwk.get("y"))
        if x is not None and y is not None:
            return base64.b64encode(x + y).decode("ascii")
    return None


EXCHANGE_KEY_ID = "cocore_exchange"


def exchange_settlement_key(doc: Mapping[str, Any]) -> PublicKey | None:
    """The P-256 key an exchange signs settlements with, as its DID document publishes it.

    Either the `#cocore_exchange` verification method (a `Multikey`, or the legacy P-256 type
    some PLC directories still emit, with `publicKeyMultibase`; or a `publicKeyJwk`), or, for
    the reference's did:web documents, the first P-256 `publicKeyJwk`. None when there is none.
    """
    did = doc.get("id")
    for method in _list(doc, "verificationMethod"):
        if method.get("id") not in (f"#{EXCHANGE_KEY_ID}", f"{did}#{EXCHANGE_KEY_ID}"):
            continue
        jwk, multibase = method.get("publicKeyJwk"), method.get("publicKeyMultibase")
        try:
            if isinstance(jwk, Mapping):
                return PublicKey.from_jwk(jwk)
            if isinstance(multibase, str):
                key = key_from_verification_method(str(method.get("type")), multibase)
                return (
                    PublicKey.from_raw_xy(key.public_bytes[1:]) if key.jwt_alg == "ES256" else None
                )
        except (InvalidKey, CryptoError):
            return None
        return None
    fallback = p256_jwk_key(doc)
    return PublicKey.from_cocore_b64(fallback) if fallback is not None else None


def _b64url_32(value: Any) -> bytes | None:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_-]{43}=?", value):
        return None
    try:
        raw = base64.urlsafe_b64decode(value.rstrip("=") + "=")
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == 32 else None


def _list(doc: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    items = doc.get(key)
    if not isinstance(items, list):
        return []
    return [item for item in items if isinstance(item, Mapping)]
