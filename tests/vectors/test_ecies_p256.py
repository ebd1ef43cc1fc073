"""ecies-p256.json (p256-ecies-se): Z, key, blobs, replies, must-fail cases; the high-level API."""

from __future__ import annotations

from typing import Any

import pytest

from cocore.crypto import (
    HKDF_INFO,
    EncryptionKeyPair,
    GcmCipher,
    KeyFormatError,
    PublicKey,
    SealError,
    SealScheme,
    SigningKey,
    b64decode_strict,
    b64encode,
    ecies_derive_key,
    ecies_open,
    ecies_seal,
    open_request,
    output_cipher_commitment,
    output_commitment,
    seal_request,
)
from tests.conftest import load_vector

V: dict[str, Any] = load_vector("ecies-p256.json")
SEALS: list[dict[str, Any]] = V["seals"]
REPLY: dict[str, Any] = V["replyDirection"]
SCHEME = SealScheme.P256_ECIES_SE


def _key(scalar_hex: str) -> SigningKey:
    return SigningKey.from_scalar(int(scalar_hex, 16))


def test_kdf_constants() -> None:
    assert V["hkdfInfoUtf8"].encode() == HKDF_INFO
    assert bytes.fromhex(V["hkdfSaltHex"]) == bytes(32)


@pytest.mark.parametrize("case", SEALS, ids=[c["name"] for c in SEALS])
def test_seal_vector(case: dict[str, Any]) -> None:
    recipient = _key(case["recipientPrivateScalarHex"])
    ephemeral = _key(case["ephemeralPrivateScalarHex"])
    plaintext = bytes.fromhex(case["plaintextHex"])
    blob = bytes.fromhex(case["blobHex"])
    assert recipient.public_key.to_cocore_b64() == case["recipientPublicKeyB64"]
    assert ephemeral.public_key.to_cocore_b64() == case["ephemeralPublicKeyB64_epk"]
    # Z is the same from both ends, and the HKDF output matches.
    z = ephemeral.ecdh(recipient.public_key)
    assert z.hex() == case["sharedSecretZHex"]
    assert recipient.ecdh(PublicKey.from_cocore_b64(case["ephemeralPublicKeyB64_epk"])) == z
    assert ecies_derive_key(z).hex() == case["aesKeyHex"]
    # We reproduce the blob given the fixed ephemeral and IV ...
    ours, epk = ecies_seal(
        recipient.public_key, plaintext, ephemeral=ephemeral, iv=bytes.fromhex(case["ivHex"])
    )
    assert ours == blob
    assert b64encode(ours) == case["blobB64"]
    assert epk == case["ephemeralPublicKeyB64_epk"]
    # ... and open the reference blob, low-level and through the provider API.
    assert ecies_open(recipient, epk, blob) == plaintext
    keypair = EncryptionKeyPair.from_secret_bytes(SCHEME, recipient.to_scalar().to_bytes(32, "big"))
    assert keypair.public_key_b64 == case["recipientPublicKeyB64"]
    opened, _sealer = open_request(keypair, epk, b64decode_strict(case["blobB64"]))
    assert opened == plaintext
    assert case["referenceOpenedEqualsPlaintext"] and case["pythonSdkOpenOk"]


def test_golden_vector_is_first() -> None:
    golden = SEALS[0]
    assert golden["recipientPrivateScalarHex"] == bytes(range(1, 33)).hex()
    assert golden["ephemeralPrivateScalarHex"] == bytes(range(33, 65)).hex()
    assert bytes.fromhex(golden["plaintextHex"]) == b"cocore-ecies-golden"


def test_reply_direction() -> None:
    provider = _key(REPLY["providerPrivateScalarHex"])
    requester = _key(REPLY["requesterEphemeralPrivateScalarHex"])
    assert provider.public_key.to_cocore_b64() == REPLY["providerPublicKeyB64"]
    assert requester.public_key.to_cocore_b64() == REPLY["requesterEphemeralPublicKeyB64"]
    requester_pub = PublicKey.from_cocore_b64(REPLY["requesterEphemeralPublicKeyB64"])
    assert provider.ecdh(requester_pub).hex() == REPLY["sharedSecretZHex"]
    provider_side = GcmCipher.from_ecdh(provider, requester_pub)
    requester_side = GcmCipher.from_ecdh(requester, provider.public_key)
    blobs = []
    for chunk in REPLY["chunks"]:
        blob = b64decode_strict(chunk["blobB64"])
        plaintext = chunk["plaintextUtf8"].encode()
        assert provider_side.seal(plaintext, bytes.fromhex(chunk["ivHex"])) == blob
        assert requester_side.open(blob) == plaintext
        blobs.append(blob)
    assert output_cipher_commitment(blobs) == REPLY["concatenatedBlobsSha256"]
    assert (
        output_commitment(c["plaintextUtf8"] for c in REPLY["chunks"])
        == (REPLY["outputCommitmentSha256"])
    )


def test_reply_direction_through_the_provider_api() -> None:
    # The request of seals[1] came from the same requester ephemeral key as the reply vector.
    request = SEALS[1]
    assert request["ephemeralPrivateScalarHex"] == REPLY["requesterEphemeralPrivateScalarHex"]
    keypair = EncryptionKeyPair.from_secret_bytes(
        SCHEME, bytes.fromhex(REPLY["providerPrivateScalarHex"])
    )
    _, sealer = open_request(
        keypair, REPLY["requesterEphemeralPublicKeyB64"], bytes.fromhex(request["blobHex"])
    )
    requester = _key(REPLY["requesterEphemeralPrivateScalarHex"])
    opener = GcmCipher.from_ecdh(requester, keypair_public(keypair))
    for chunk in REPLY["chunks"]:
        assert opener.open(sealer.seal_chunk(chunk["plaintextUtf8"].encode())) == (
            chunk["plaintextUtf8"].encode()
        )


def keypair_public(keypair: EncryptionKeyPair) -> PublicKey:
    return PublicKey.from_cocore_b64(keypair.public_key_b64)


@pytest.mark.parametrize("case", V["mustFailToOpen"], ids=[c["name"] for c in V["mustFailToOpen"]])
def test_must_fail_to_open(case: dict[str, Any]) -> None:
    assert case["referenceOpenResult"] is None
    cipher = GcmCipher(ecies_derive_key(bytes.fromhex(case["sharedSecretZHex"])))
    with pytest.raises(SealError):
        cipher.open(bytes.fromhex(case["blobHex"]))


# --------------------------------------------------------------- the high-level API, both ways

PROMPT = b"secret prompt: the launch code is 0000"


def test_round_trip_both_directions() -> None:
    provider = EncryptionKeyPair.generate(SCHEME)
    blob, requester_pub, opener = seal_request(SCHEME, provider.public_key_b64, PROMPT)
    assert len(b64decode_strict(requester_pub)) == 64
    assert len(blob) == 12 + len(PROMPT) + 16
    plaintext, sealer = open_request(provider, requester_pub, blob)
    assert plaintext == PROMPT
    chunks = [b"The capital", b" of France", b"", b" is Paris." * 400]
    sealed = [sealer.seal_chunk(c) for c in chunks]
    assert [opener.open_chunk(s) for s in sealed] == chunks
    assert sealer.seal_chunk(b"same") != sealer.seal_chunk(b"same")  # fresh IV per chunk
    assert opener.scheme is sealer.scheme is SCHEME


def test_fresh_ephemeral_per_request() -> None:
    provider = EncryptionKeyPair.generate(SCHEME)
    first = seal_request(SCHEME, provider.public_key_b64, PROMPT)
    second = seal_request(SCHEME, provider.public_key_b64, PROMPT)
    assert first[1] != second[1]
    assert first[0] != second[0]


def test_wrong_key_and_tampering_fail_without_leaking_plaintext() -> None:
    provider, stranger = EncryptionKeyPair.generate(SCHEME), EncryptionKeyPair.generate(SCHEME)
    blob, requester_pub, opener = seal_request(SCHEME, provider.public_key_b64, PROMPT)
    other_requester = seal_request(SCHEME, provider.public_key_b64, PROMPT)[1]
    bad_inputs = [
        (stranger, requester_pub, blob),
        (provider, other_requester, blob),
        (provider, requester_pub, blob[:-1]),
        (provider, requester_pub, blob[:27]),
        (provider, requester_pub, b""),
        (provider, requester_pub, blob + b"\x00"),
        *[
            (provider, requester_pub, blob[:i] + bytes([blob[i] ^ 1]) + blob[i + 1 :])
            for i in (0, 11, 12, len(blob) - 1)
        ],
    ]
    for keypair, pub, data in bad_inputs:
        with pytest.raises(SealError) as info:
            open_request(keypair, pub, data)
        assert b"launch" not in str(info.value).encode()
    _, sealer = open_request(provider, requester_pub, blob)
    reply = sealer.seal_chunk(b"reply")
    with pytest.raises(SealError):
        opener.open_chunk(reply[:-1] + bytes([reply[-1] ^ 0x80]))
    blob2, requester_pub2, _ = seal_request(SCHEME, provider.public_key_b64, b"x")
    _, foreign_sealer = open_request(provider, requester_pub2, blob2)
    with pytest.raises(SealError):  # a reply from another session (another Z)
        opener.open_chunk(foreign_sealer.seal_chunk(b"not for you"))


def test_keys_and_schemes_are_checked() -> None:
    provider = EncryptionKeyPair.generate(SCHEME)
    again = EncryptionKeyPair.from_secret_bytes(SCHEME, provider.secret_bytes())
    assert again.public_key_b64 == provider.public_key_b64
    assert provider.secret_bytes().hex() not in repr(provider)
    for secret in (bytes(32), b"\xff" * 32, bytes(31)):
        with pytest.raises(KeyFormatError):
            EncryptionKeyPair.from_secret_bytes(SCHEME, secret)
    x25519_key = EncryptionKeyPair.generate(SealScheme.X25519).public_key_b64
    for recipient in (x25519_key, "not base64", b64encode(b"\x04" + bytes(64))):
        with pytest.raises(KeyFormatError):
            seal_request(SCHEME, recipient, PROMPT)
    blob, _, _ = seal_request(SCHEME, provider.public_key_b64, PROMPT)
    with pytest.raises(KeyFormatError):
        open_request(provider, x25519_key, blob)
