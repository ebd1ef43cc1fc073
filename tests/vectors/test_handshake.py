"""handshake.json: canonical strings rebuilt from their fields; every DER signature verifies."""

from __future__ import annotations

from typing import Any

from cocore.canonical import canonicalize, loads_strict
from cocore.crypto import PublicKey, b64decode_strict, x25519_public_key
from tests.conftest import load_vector

# sessionKey.verifyProviderForSeal holds requester-side verifier results: not ours, not here.
V: dict[str, Any] = load_vector("handshake.json")
RECEIPTS: dict[str, Any] = load_vector("receipts.json")
PROVIDER = PublicKey.from_cocore_b64(V["providerPublicKeyB64"])


def _verifies(key: PublicKey, signature_b64: str, message: bytes) -> bool:
    signature = b64decode_strict(signature_b64)
    return key.verify_der(signature, message) and not key.verify_der(signature, message + b" ")


def test_session_key() -> None:
    section = V["sessionKey"]
    frame = section["sessionKey"]
    ephemeral_secret = bytes.fromhex(section["ephemeralSecretKeyHex"])
    assert b64decode_strict(frame["ephemeralPubKey"]) == x25519_public_key(ephemeral_secret)
    signed = {k: frame[k] for k in ("attestationCid", "ephemeralPubKey", "nonce")}
    message = canonicalize(signed)
    assert message == section["canonical"].encode()
    assert _verifies(PROVIDER, frame["signature"], message)


def test_code_attestation() -> None:
    section = V["codeAttestation"]
    message = canonicalize({"nonce": "deadbeefcafe", "cdHash": "ab" * 20})
    assert message == section["canonical"].encode()
    assert canonicalize(loads_strict(section["canonical"])) == message
    assert _verifies(PROVIDER, section["signatureDerB64"], message)
    # {nonce} alone (no cdHash) is a different message; the signature must not carry over.
    assert not PROVIDER.verify_der(
        b64decode_strict(section["signatureDerB64"]), canonicalize({"nonce": "deadbeefcafe"})
    )


def test_challenge_response() -> None:
    section = V["challengeResponse"]
    fields = {
        "timestamp": "2026-05-07T12:00:00Z",
        "sipEnabled": True,
        "nonce": "c0ffee",
        "hypervisorPresent": False,
    }
    message = canonicalize(fields)
    assert message == section["canonical"].encode()
    assert canonicalize(loads_strict(section["canonical"])) == message
    assert _verifies(PROVIDER, section["signatureDerB64"], message)


def test_brokerage_witness() -> None:
    section = V["brokerageWitness"]
    receipt = RECEIPTS["brokerage"][0]["receipt"]
    counter = receipt["brokerageCountersignature"]
    message = canonicalize(
        {
            "attestation": receipt["attestation"]["uri"],
            "authority": counter["authority"],
            "jobCid": receipt["job"]["cid"],
            "jobUri": receipt["job"]["uri"],
            "machineId": counter["machineId"],
            "nonce": counter["nonce"],
            "requester": receipt["requester"],
        }
    )
    assert message == section["canonical"].encode()
    assert message == RECEIPTS["signing"]["brokerageWitnessCanonical"].encode()
    assert counter["sig"] == section["signatureDerB64"]
    authority = PublicKey.from_jwk(section["brokeragePublicJwk"])
    assert authority.to_cocore_b64() == RECEIPTS["keys"]["brokerage"]["publicKeyB64"]
    assert _verifies(authority, section["signatureDerB64"], message)
    assert not PROVIDER.verify_der(b64decode_strict(section["signatureDerB64"]), message)
