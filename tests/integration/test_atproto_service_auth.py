"""Service-auth JWTs end to end: issued by the real PDS, minted locally behind a did:web."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from cocore.atproto import (
    IdentityResolver,
    JwtBadAudience,
    JwtBadMethod,
    JwtBadSignature,
    JwtExpired,
    ServiceAuthVerifier,
    SigningKey,
    get_service_auth,
    mint_service_jwt,
)
from cocore.errors import Unauthenticated
from cocore.lexicon import ids
from tests.fixtures.atproto import Account, AtprotoStack

APPVIEW_DID = "did:web:appview.cocore.test"
SUBMIT = ids.INFERENCE_SUBMIT


@pytest.fixture(scope="module")
async def alice(atproto_stack: AtprotoStack) -> Account:
    return await atproto_stack.create_account()


@pytest.mark.pds
async def test_service_auth_from_pds(atproto_stack: AtprotoStack, alice: Account) -> None:
    token = await get_service_auth(alice.client, APPVIEW_DID, SUBMIT)
    async with IdentityResolver(atproto_stack.plc_url) as resolver:
        verifier = ServiceAuthVerifier(APPVIEW_DID, resolver)
        claims = await verifier.verify(token, SUBMIT)
        assert claims.iss == alice.client.did and claims.lxm == SUBMIT and claims.aud == APPVIEW_DID

        with pytest.raises(JwtBadAudience):
            await ServiceAuthVerifier("did:web:other.cocore.test", resolver).verify(token, SUBMIT)
        with pytest.raises(JwtBadMethod):
            await verifier.verify(token, ids.INFERENCE_STATUS)
        later = ServiceAuthVerifier(APPVIEW_DID, resolver, clock=lambda: time.time() + 3600)
        with pytest.raises(JwtExpired):
            await later.verify(token, SUBMIT)

        head, payload, sig = token.split(".")
        claims_json = json.loads(base64.urlsafe_b64decode(payload + "=="))
        forged = base64.urlsafe_b64encode(
            json.dumps({**claims_json, "lxm": ids.INFERENCE_DISPATCH}).encode()
        ).decode().rstrip("=")  # fmt: skip
        with pytest.raises(JwtBadSignature):
            await verifier.verify(f"{head}.{forged}.{sig}", ids.INFERENCE_DISPATCH)
        raw = bytearray(base64.urlsafe_b64decode(sig + "=="))
        raw[5] ^= 1
        bad_sig = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
        with pytest.raises(JwtBadSignature) as err:
            await verifier.verify(f"{head}.{payload}.{bad_sig}", SUBMIT)
        assert isinstance(err.value, Unauthenticated)

        unbound = await get_service_auth(alice.client, APPVIEW_DID)
        assert (await verifier.verify(unbound)).lxm is None
        with pytest.raises(JwtBadMethod):
            await verifier.verify(unbound, SUBMIT)


@contextlib.contextmanager
def did_web_server(docs: dict[str, dict[str, Any]]) -> Iterator[int]:
    """Serve DID documents by path on 127.0.0.1 (a local did:web service)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            doc = docs.get(self.path)
            body = json.dumps(doc).encode() if doc is not None else b"{}"
            self.send_response(200 if doc is not None else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def did_web_doc(did: str, key: SigningKey) -> dict[str, Any]:
    return {"id": did, "verificationMethod": [
        {"id": f"{did}#atproto", "type": "Multikey", "controller": did,
         "publicKeyMultibase": key.public.multikey}]}  # fmt: skip


@pytest.mark.parametrize("alg", ["ES256", "ES256K"])
async def test_locally_minted_jwt_round_trips(alg: str) -> None:
    key, other = SigningKey.generate(alg), SigningKey.generate(alg)  # type: ignore[arg-type]
    docs: dict[str, dict[str, Any]] = {}
    with did_web_server(docs) as port:
        did = f"did:web:127.0.0.1%3A{port}:svc:exchange"
        docs["/svc/exchange/did.json"] = did_web_doc(did, key)
        async with IdentityResolver("http://unused.invalid", allow_insecure_loopback=True) as r:
            verifier = ServiceAuthVerifier(APPVIEW_DID, r)
            now = int(time.time())
            token = mint_service_jwt(key, iss=f"{did}#cocore_exchange", aud=APPVIEW_DID,
                                     lxm=SUBMIT, now=now)  # fmt: skip
            claims = await verifier.verify(token, SUBMIT)
            assert (claims.iss, claims.service, claims.exp) == (did, "cocore_exchange", now + 60)
            wrong = mint_service_jwt(other, iss=did, aud=APPVIEW_DID, lxm=SUBMIT, now=now)
            with pytest.raises(JwtBadSignature):
                await verifier.verify(wrong, SUBMIT)
            # After a key rotation the cached document is refreshed once and the token passes.
            docs["/svc/exchange/did.json"] = did_web_doc(did, other)
            assert (await verifier.verify(wrong, SUBMIT)).iss == did
