"""settlement.json: raw r‖s b64url signatures over the canonical form; the key fingerprint."""

from __future__ import annotations

from typing import Any

import pytest

from cocore.canonical import canonicalize
from cocore.crypto import (
    KeyFormatError,
    PublicKey,
    SigningKey,
    b64url_decode_strict,
    b64url_encode,
    jwk_fingerprint,
)
from tests.conftest import load_vector

V: dict[str, Any] = load_vector("settlement.json")
KEY = V["exchangeKey"]
PUBLIC = PublicKey.from_jwk(KEY["publicJwk"])
MESSAGE = V["canonical"].encode()


def test_canonical_form_is_the_stored_record_minus_sig_and_type() -> None:
    assert canonicalize(V["unsignedSettlement"]) == MESSAGE
    stored = {k: v for k, v in V["stored"].items() if k not in ("sig", "$type")}
    assert canonicalize(stored) == MESSAGE


def test_exchange_key_forms_agree() -> None:
    assert PUBLIC.to_cocore_b64() == KEY["publicKeyB64"]
    private = SigningKey.from_private_jwk(KEY["privateJwk"])
    assert private.public_key == PUBLIC
    assert private.to_private_jwk() == KEY["privateJwk"]


@pytest.mark.parametrize("field", ["sigRfc6979RawB64url", "sigFromReferenceSignRecord"])
def test_signature_verifies(field: str) -> None:
    raw = b64url_decode_strict(V[field])
    assert len(raw) == 64
    assert PUBLIC.verify_raw(raw, MESSAGE)
    assert not PUBLIC.verify_raw(raw, MESSAGE.replace(b'"amount":3', b'"amount":4'))
    with_type = canonicalize({**V["unsignedSettlement"], "$type": V["stored"]["$type"]})
    assert not PUBLIC.verify_raw(raw, with_type)  # $type was not signed
    assert not PUBLIC.verify_der(raw, MESSAGE)  # raw r‖s is not DER


def test_deterministic_signature_reproduces() -> None:
    private = SigningKey.from_private_jwk(KEY["privateJwk"])
    assert b64url_encode(private.sign_raw(MESSAGE, deterministic=True)) == V["sigRfc6979RawB64url"]
    assert V["stored"]["sig"] == V["sigRfc6979RawB64url"]


def test_signing_key_fingerprint() -> None:
    rule = V["signingKeyFingerprint"]
    assert canonicalize(dict(KEY["publicJwk"])) == rule["canonicalPublicJwk"].encode()
    assert jwk_fingerprint(KEY["publicJwk"]) == rule["reference"]
    # The private JWK gives the same fingerprint: `d` is never part of it.
    assert jwk_fingerprint(KEY["privateJwk"]) == rule["reference"]
    # alg/kid count when present.
    assert jwk_fingerprint({**KEY["publicJwk"], "alg": "ES256"}) != rule["reference"]
    assert jwk_fingerprint({**KEY["publicJwk"], "use": "sig"}) == rule["reference"]
    with pytest.raises(KeyFormatError):
        jwk_fingerprint({**KEY["publicJwk"], "kid": 7})
