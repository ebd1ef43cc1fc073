"""Pure logic of cocore.atproto: DID URLs, DID documents, caches, keys, JWT checks, XRPC errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from cocore.atproto import (
    AtprotoUnavailable,
    DidNotFound,
    IdentityResolver,
    InvalidDidDocument,
    InvalidKey,
    ResponseTooLarge,
    SigningKey,
    UnsupportedDid,
    XrpcAlreadyExists,
    XrpcExpiredToken,
    XrpcForbidden,
    XrpcInvalidRequest,
    XrpcNotFound,
    XrpcRateLimited,
    XrpcServerError,
    XrpcSwapMismatch,
    XrpcUnauthenticated,
    atproto_signing_key,
    did_document_url,
    error_for,
    handle,
    p256_jwk_key,
    parse_did_key_str,
    pds_endpoint,
)
from cocore.atproto._cache import TtlCache
from cocore.atproto.xrpc import encode_params
from cocore.errors import FailedPrecondition, NotFound
from cocore.syntax import parse_did
from tests.conftest import load_vector

PLC = "https://plc.directory"
SERVICE = "did:web:appview.cocore.test"


# ---------------------------------------------------------------- DID document URLs


@pytest.mark.parametrize("case", load_vector("did-aturi.json")["dids"], ids=lambda c: c["did"])
def test_did_document_url_vectors(case: dict[str, Any]) -> None:
    did = parse_did(case["did"])
    if case["didDocumentUrl"] is None:
        with pytest.raises(UnsupportedDid) as err:
            did_document_url(did, PLC)
        assert err.value.code == case["resolvePdsEndpointResult"]["threw"].replace("-", "_")
    else:
        assert did_document_url(did, PLC) == case["didDocumentUrl"]
        assert [did_document_url(did, PLC + "/")] == case["resolvePdsEndpointFetched"]


@pytest.mark.parametrize(
    ("did", "flag", "url"),
    [
        ("did:web:127.0.0.1%3A8080", True, "http://127.0.0.1:8080/.well-known/did.json"),
        ("did:web:127.0.0.1%3A8080", False, "https://127.0.0.1:8080/.well-known/did.json"),
        ("did:web:localhost:svc:x", True, "http://localhost/svc/x/did.json"),
        ("did:web:example.com%3A8443", True, "https://example.com:8443/.well-known/did.json"),
        (
            "did:web:localhost.example.com",
            True,
            "https://localhost.example.com/.well-known/did.json",
        ),
        ("did:web:example.com:a%20b", False, "https://example.com/a%20b/did.json"),
    ],
)
def test_did_web_urls(did: str, flag: bool, url: str) -> None:
    assert did_document_url(parse_did(did), PLC, allow_insecure_loopback=flag) == url


@pytest.mark.parametrize(
    "did",
    [
        "did:web:example.com:..",
        "did:web:example.com:a%2Fb",
        "did:web:user%40example.com",
        "did:web:example.com%2F..%2Fx",
        "did:plc:tooshort",
        "did:plc:UPPERCASEUPPERCASEUPPERC",
        "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme",
    ],
)
def test_bad_or_unsupported_dids_are_refused(did: str) -> None:
    with pytest.raises(UnsupportedDid):
        did_document_url(parse_did(did), PLC, allow_insecure_loopback=True)


# ---------------------------------------------------------------- DID document fields

K256 = SigningKey.from_private_bytes("ES256K", bytes(range(1, 33)))
P256 = SigningKey.from_private_bytes("ES256", bytes(range(2, 34)))


def plc_doc(did: str = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa") -> dict[str, Any]:
    """The shape the local PLC serves (legacy key type, raw uncompressed multibase key)."""
    legacy = "z" + _b58(K256.public.public_bytes)
    return {
        "id": did,
        "alsoKnownAs": ["at://Alice.Test"],
        "verificationMethod": [{"id": "#atproto", "type": "EcdsaSecp256k1VerificationKey2019",
                                "controller": did, "publicKeyMultibase": legacy}],
        "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer",
                     "serviceEndpoint": "https://pds.example/"}],
    }  # fmt: skip


def _b58(raw: bytes) -> str:
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    n, out = int.from_bytes(raw, "big"), ""
    while n:
        n, r = divmod(n, 58)
        out = alphabet[r] + out
    return "1" * (len(raw) - len(raw.lstrip(b"\0"))) + out


def test_document_fields() -> None:
    doc = plc_doc()
    assert pds_endpoint(doc) == "https://pds.example"
    assert handle(doc) == "alice.test"
    assert atproto_signing_key(doc) == K256.public
    method = {"id": f"{doc['id']}#atproto", "type": "Multikey"}
    multikey = {
        **doc,
        "verificationMethod": [{**method, "publicKeyMultibase": K256.public.multikey}],
    }
    assert atproto_signing_key(multikey) == K256.public
    assert parse_did_key_str(K256.public.did_key) == K256.public
    assert K256.public.did_key.startswith("did:key:zQ3s")
    assert P256.public.did_key.startswith("did:key:zDn")
    assert pds_endpoint({"service": [{"type": "Other", "serviceEndpoint": "x"}]}) is None
    assert handle({"alsoKnownAs": ["https://x", "at://not a handle"]}) is None


@pytest.mark.parametrize(
    "methods",
    [
        [],
        [{"id": "#other", "type": "Multikey", "publicKeyMultibase": "zQ3s"}],
        [{"id": "#atproto", "type": "Multikey"}],
        [{"id": "#atproto", "type": "Ed25519VerificationKey2020", "publicKeyMultibase": "z6Mk"}],
        [{"id": "#atproto", "type": "Multikey", "publicKeyMultibase": "zNotAKey"}],
    ],
)
def test_missing_or_bad_atproto_key(methods: list[dict[str, Any]]) -> None:
    with pytest.raises(InvalidKey):
        atproto_signing_key({"id": "did:plc:x", "verificationMethod": methods})


def test_p256_jwk_key_vector() -> None:
    vector = load_vector("did-aturi.json")["brokerageKeyFromDidDoc"]
    assert p256_jwk_key(vector["didDoc"]) == vector["extractedPublicKeyB64"]
    good = vector["didDoc"]["verificationMethod"][1]
    short = {"publicKeyJwk": {**good["publicKeyJwk"], "x": "AAAA"}}
    k1 = {"publicKeyJwk": {**good["publicKeyJwk"], "crv": "secp256k1"}}
    assert (
        p256_jwk_key({"verificationMethod": [short, k1, good]}) == vector["extractedPublicKeyB64"]
    )
    assert p256_jwk_key({"verificationMethod": [short, k1]}) is None


# ---------------------------------------------------------------- caching resolver


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_ttl_cache_expiry_and_bound() -> None:
    clock = FakeClock()
    cache: TtlCache[str, int] = TtlCache(2, clock)
    cache.put("a", 1, ttl_s=10)
    cache.put_error("b", DidNotFound("gone"), ttl_s=5)
    assert cache.get("a") is not None and cache.get("a").value == 1  # type: ignore[union-attr]
    clock.now += 5
    assert cache.get("b") is None  # negative entry expired
    cache.put("c", 3, ttl_s=10)
    cache.get("a")  # a is now the most recently used
    cache.put("d", 4, ttl_s=10)
    assert cache.get("c") is None and len(cache) == 2
    clock.now += 5
    assert cache.get("a") is None and cache.get("d") is not None


DID_A = parse_did("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa")
DID_B = parse_did("did:plc:bbbbbbbbbbbbbbbbbbbbbbbb")
DID_C = parse_did("did:plc:cccccccccccccccccccccccc")


def resolver_with(
    handler: Callable[[httpx.Request], httpx.Response], clock: FakeClock, **kw: Any
) -> tuple[IdentityResolver, list[str]]:
    seen: list[str] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return handler(request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(record))
    return IdentityResolver("https://plc.test", clock=clock, http=http, **kw), seen


def plc_directory(request: httpx.Request) -> httpx.Response:
    did = request.url.path.lstrip("/").replace("%3A", ":")
    if did == DID_A:
        return httpx.Response(200, json=plc_doc(did))
    if did == DID_B:
        return httpx.Response(404, json={"message": "DID not registered"})
    if did == DID_C:
        return httpx.Response(200, json=plc_doc(DID_A))  # someone else's document
    return httpx.Response(503)


async def test_resolver_caches_answers_and_misses() -> None:
    clock = FakeClock()
    resolver, seen = resolver_with(plc_directory, clock, ttl_s=300, negative_ttl_s=60)
    ident = await resolver.resolve_atproto(DID_A)
    assert (ident.pds, ident.signing_key) == ("https://pds.example", K256.public)
    await resolver.resolve_did(DID_A)
    assert seen == ["https://plc.test/did%3Aplc%3Aaaaaaaaaaaaaaaaaaaaaaaaa"]
    for _ in range(2):
        with pytest.raises(DidNotFound):
            await resolver.resolve_did(DID_B)
    assert len(seen) == 2  # the miss is cached
    clock.now += 61
    with pytest.raises(DidNotFound):
        await resolver.resolve_did(DID_B)
    assert len(seen) == 3
    await resolver.resolve_did(DID_A)
    assert len(seen) == 3  # still fresh
    clock.now += 300
    await resolver.resolve_did(DID_A)
    await resolver.resolve_did(DID_A, fresh=True)
    assert len(seen) == 5
    with pytest.raises(InvalidDidDocument):
        await resolver.resolve_did(DID_C)
    await resolver.aclose()


async def test_resolver_errors_are_typed_and_outages_not_cached() -> None:
    clock = FakeClock()
    resolver, seen = resolver_with(plc_directory, clock, max_entries=1)
    unknown = parse_did("did:plc:dddddddddddddddddddddddd")
    for _ in range(2):
        with pytest.raises(AtprotoUnavailable):
            await resolver.resolve_did(unknown)
    assert len(seen) == 2
    with pytest.raises(UnsupportedDid):
        await resolver.resolve_did(parse_did("did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUD"))
    assert len(seen) == 2  # refused before any request
    await resolver.resolve_did(DID_A)
    with pytest.raises(DidNotFound):
        await resolver.resolve_did(DID_B)
    await resolver.resolve_did(DID_A)  # evicted by B (max_entries=1)
    assert len(seen) == 5
    await resolver.aclose()


async def test_resolver_bounds_documents_and_shares_lookups() -> None:
    big = {"id": str(DID_A), "pad": "x" * 300_000}
    resolver, seen = resolver_with(lambda _: httpx.Response(200, json=big), FakeClock())
    with pytest.raises(ResponseTooLarge):
        await resolver.resolve_did(DID_A)
    await resolver.aclose()
    resolver, seen = resolver_with(plc_directory, FakeClock())
    docs = await asyncio.gather(*(resolver.resolve_did(DID_A) for _ in range(5)))
    assert len(seen) == 1 and all(d == docs[0] for d in docs)
    await resolver.aclose()


# ---------------------------------------------------------------- XRPC errors


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (400, {"error": "ExpiredToken", "message": "Token has expired"}, XrpcExpiredToken),
        (400, {"error": "InvalidToken"}, XrpcUnauthenticated),
        (401, {"error": "AuthMissing"}, XrpcUnauthenticated),
        (400, {"error": "RecordNotFound"}, XrpcNotFound),
        (400, {"error": "InvalidRequest", "message": "Could not locate record"}, XrpcNotFound),
        (400, {"error": "InvalidSwap", "message": "Record was at x"}, XrpcSwapMismatch),
        (400, {"error": "HandleNotAvailable"}, XrpcAlreadyExists),
        (400, {"error": "InvalidRequest", "message": "bad"}, XrpcInvalidRequest),
        (403, {"error": "Forbidden"}, XrpcForbidden),
        (429, {"error": "RateLimitExceeded"}, XrpcRateLimited),
        (502, b"<html>bad gateway</html>", XrpcServerError),
        (500, {"error": "InternalServerError"}, XrpcServerError),
        (404, b"", XrpcNotFound),
    ],
)
def test_error_mapping(status: int, body: Any, cls: type[Exception]) -> None:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    err = error_for(status, raw, "com.atproto.repo.getRecord")
    assert type(err) is cls and err.status == status
    assert "com.atproto.repo.getRecord" in str(err)
    assert isinstance(error_for(400, b'{"error":"InvalidSwap"}', "m"), FailedPrecondition)
    assert isinstance(error_for(400, b'{"error":"RecordNotFound"}', "m"), NotFound)


def test_encode_params() -> None:
    q = encode_params({"a": "x", "b": None, "c": True, "d": 3, "e": ["1", "2"]})
    assert str(q) == "a=x&c=true&d=3&e=1&e=2"
