"""nacl-box-x25519.json (x25519): keys, frames, replies, must-fail cases; the high-level API."""

from __future__ import annotations

from typing import Any

import pytest

from cocore.crypto import (
    BoxCipher,
    EncryptionKeyPair,
    KeyFormatError,
    SealError,
    SealScheme,
    b64decode_strict,
    b64encode,
    box_open,
    box_seal,
    open_request,
    output_cipher_commitment,
    output_commitment,
    parse_seal_scheme,
    seal_request,
    x25519_public_key,
    x25519_shared,
)
from cocore.crypto.errors import CryptoError
from tests.conftest import load_vector

V: dict[str, Any] = load_vector("nacl-box-x25519.json")
SEALS: list[dict[str, Any]] = V["seals"]
REPLY: dict[str, Any] = V["replyDirection"]
SCHEME = SealScheme.X25519


@pytest.mark.parametrize("case", SEALS, ids=[c["name"] for c in SEALS])
def test_seal_vector(case: dict[str, Any]) -> None:
    recipient = bytes.fromhex(case["recipientSecretKeyHex"])
    sender = bytes.fromhex(case["senderEphemeralSecretKeyHex"])
    recipient_pub = b64decode_strict(case["recipientPublicKeyB64"])
    sender_pub = b64decode_strict(case["senderEphemeralPublicKeyB64_requesterPubKey"])
    plaintext = bytes.fromhex(case["plaintextHex"])
    framed = bytes.fromhex(case["framedHex"])
    assert x25519_public_key(recipient) == recipient_pub
    assert x25519_public_key(sender) == sender_pub
    assert x25519_shared(sender, recipient_pub).hex() == case["x25519SharedHex"]
    assert x25519_shared(recipient, sender_pub).hex() == case["x25519SharedHex"]
    assert BoxCipher(sender, recipient_pub).shared_key.hex() == case["boxBeforenmKeyHex"]
    assert BoxCipher(recipient, sender_pub).shared_key.hex() == case["boxBeforenmKeyHex"]
    ours = box_seal(sender, recipient_pub, plaintext, bytes.fromhex(case["nonceHex"]))
    assert ours == framed
    assert b64encode(ours) == case["framedB64"]
    assert box_open(recipient, sender_pub, framed) == plaintext
    keypair = EncryptionKeyPair.from_secret_bytes(SCHEME, recipient)
    assert keypair.public_key_b64 == case["recipientPublicKeyB64"]
    opened, _sealer = open_request(
        keypair, case["senderEphemeralPublicKeyB64_requesterPubKey"], framed
    )
    assert opened == plaintext
    assert case["referenceOpenedEqualsPlaintext"] and case["pythonSdkOpenOk"]


def test_reply_direction() -> None:
    provider = bytes.fromhex(REPLY["providerSecretKeyHex"])
    requester = bytes.fromhex(REPLY["requesterEphemeralSecretKeyHex"])
    provider_pub = b64decode_strict(REPLY["providerPublicKeyB64"])
    requester_pub = b64decode_strict(REPLY["requesterEphemeralPublicKeyB64"])
    assert x25519_public_key(provider) == provider_pub
    assert x25519_public_key(requester) == requester_pub
    # Provider seals with (requester ephemeral public, provider static secret); the requester
    # opens with its ephemeral secret and the provider public key: the same beforenm key.
    provider_side, requester_side = (
        BoxCipher(provider, requester_pub),
        BoxCipher(requester, provider_pub),
    )
    frames = []
    for chunk in REPLY["chunks"]:
        framed = b64decode_strict(chunk["framedB64"])
        plaintext = chunk["plaintextUtf8"].encode()
        assert provider_side.seal(plaintext, bytes.fromhex(chunk["nonceHex"])) == framed
        assert requester_side.open(framed) == plaintext
        frames.append(framed)
    assert (
        output_cipher_commitment(frames)
        == (REPLY["concatenatedFramesSha256_outputCipherCommitment"])
    )
    assert (
        output_commitment(c["plaintextUtf8"] for c in REPLY["chunks"])
        == (REPLY["outputCommitmentSha256"])
    )


def test_reply_direction_through_the_provider_api() -> None:
    # seals[1] ("short prompt") came from the requester ephemeral key of the reply vector.
    request = SEALS[1]
    assert request["senderEphemeralSecretKeyHex"] == REPLY["requesterEphemeralSecretKeyHex"]
    keypair = EncryptionKeyPair.from_secret_bytes(
        SCHEME, bytes.fromhex(REPLY["providerSecretKeyHex"])
    )
    _, sealer = open_request(
        keypair, REPLY["requesterEphemeralPublicKeyB64"], bytes.fromhex(request["framedHex"])
    )
    requester_side = BoxCipher(
        bytes.fromhex(REPLY["requesterEphemeralSecretKeyHex"]),
        b64decode_strict(REPLY["providerPublicKeyB64"]),
    )
    for chunk in REPLY["chunks"]:
        text = chunk["plaintextUtf8"].encode()
        assert requester_side.open(sealer.seal_chunk(text)) == text


@pytest.mark.parametrize("case", V["mustFailToOpen"], ids=[c["name"] for c in V["mustFailToOpen"]])
def test_must_fail_to_open(case: dict[str, Any]) -> None:
    assert case["referenceOpenResult"] is None
    recipient = bytes.fromhex(case["recipientSecretKeyHex"])
    framed = bytes.fromhex(case["framedHex"])
    with pytest.raises(SealError):
        box_open(recipient, b64decode_strict(case["senderPublicKeyB64"]), framed)
    keypair = EncryptionKeyPair.from_secret_bytes(SCHEME, recipient)
    with pytest.raises(SealError):
        open_request(keypair, case["senderPublicKeyB64"], framed)


# --------------------------------------------------------------- the high-level API, both ways

PROMPT = b"secret prompt: the launch code is 0000"


def test_round_trip_both_directions() -> None:
    provider = EncryptionKeyPair.generate(SCHEME)
    blob, requester_pub, opener = seal_request(SCHEME, provider.public_key_b64, PROMPT)
    assert len(b64decode_strict(requester_pub)) == 32
    assert len(blob) == 24 + 16 + len(PROMPT)
    plaintext, sealer = open_request(provider, requester_pub, blob)
    assert plaintext == PROMPT
    chunks = [b"The capital", b" of France", b"", b" is Paris." * 400]
    sealed = [sealer.seal_chunk(c) for c in chunks]
    assert [opener.open_chunk(s) for s in sealed] == chunks
    assert sealer.seal_chunk(b"same") != sealer.seal_chunk(b"same")  # fresh nonce per chunk
    assert opener.scheme is sealer.scheme is SCHEME


def test_fresh_ephemeral_per_request() -> None:
    provider = EncryptionKeyPair.generate(SCHEME)
    first = seal_request(SCHEME, provider.public_key_b64, PROMPT)
    second = seal_request(SCHEME, provider.public_key_b64, PROMPT)
    assert first[1] != second[1]
    assert first[0][24:] != second[0][24:]


def test_wrong_key_and_tampering_fail_without_leaking_plaintext() -> None:
    provider, stranger = EncryptionKeyPair.generate(SCHEME), EncryptionKeyPair.generate(SCHEME)
    blob, requester_pub, opener = seal_request(SCHEME, provider.public_key_b64, PROMPT)
    other_blob, other_requester, _ = seal_request(SCHEME, provider.public_key_b64, b"x")
    bad_inputs = [
        (stranger, requester_pub, blob),
        (provider, other_requester, blob),
        (provider, requester_pub, blob[:-1]),
        (provider, requester_pub, blob[:24]),
        (provider, requester_pub, blob[:39]),
        (provider, requester_pub, b""),
        (provider, requester_pub, blob + b"\x00"),
        *[
            (provider, requester_pub, blob[:i] + bytes([blob[i] ^ 1]) + blob[i + 1 :])
            for i in (0, 23, 24, 39, 40, len(blob) - 1)
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
    _, foreign_sealer = open_request(provider, other_requester, other_blob)
    with pytest.raises(SealError):  # a reply from another session (another ephemeral key)
        opener.open_chunk(foreign_sealer.seal_chunk(b"not for you"))


def test_keys_and_schemes_are_checked() -> None:
    provider = EncryptionKeyPair.generate(SCHEME)
    again = EncryptionKeyPair.from_secret_bytes(SCHEME, provider.secret_bytes())
    assert again.public_key_b64 == provider.public_key_b64
    assert provider.secret_bytes().hex() not in repr(provider)
    with pytest.raises(KeyFormatError):
        EncryptionKeyPair.from_secret_bytes(SCHEME, bytes(31))
    p256_key = EncryptionKeyPair.generate(SealScheme.P256_ECIES_SE).public_key_b64
    low_order = b64encode(bytes(32))  # X25519 of the zero point is zero: libsodium refuses it
    for recipient in (p256_key, "QQ", low_order):
        with pytest.raises(KeyFormatError):
            seal_request(SCHEME, recipient, PROMPT)
    with pytest.raises(KeyFormatError):
        open_request(provider, low_order, bytes(64))


def test_parse_seal_scheme() -> None:
    assert parse_seal_scheme(None) is SealScheme.X25519
    assert parse_seal_scheme("x25519") is SealScheme.X25519
    assert parse_seal_scheme("p256-ecies-se") is SealScheme.P256_ECIES_SE
    for bad in ("", "X25519", "x25519-xsalsa20-poly1305", "hpke"):
        with pytest.raises(CryptoError) as info:
            parse_seal_scheme(bad)
        assert info.value.code == "unknown_seal_scheme"
