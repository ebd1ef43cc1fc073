"""Sealing prompts and replies (crypto.md §6): the scheme choice and the request/reply API."""

from __future__ import annotations

import os
from enum import StrEnum
from typing import Protocol, Self

from .box import X25519_KEY_LEN, BoxCipher, x25519_public_key
from .ecies import GcmCipher
from .encoding import b64decode_strict, b64encode
from .errors import CryptoError, EncodingError, KeyFormatError
from .keys import PublicKey, SigningKey

__all__ = [
    "EncryptionKeyPair",
    "ReplyOpener",
    "ReplySealer",
    "SealScheme",
    "open_request",
    "parse_seal_scheme",
    "seal_request",
]


class SealScheme(StrEnum):
    """The attestation's `encScheme`; absent means X25519."""

    X25519 = "x25519"
    P256_ECIES_SE = "p256-ecies-se"


def parse_seal_scheme(value: str | None) -> SealScheme:
    """`encScheme` → SealScheme (None → X25519); any other value raises CryptoError."""
    if value is None:
        return SealScheme.X25519
    try:
        return SealScheme(value)
    except ValueError:
        shown = value[:40] if isinstance(value, str) else type(value).__name__
        raise CryptoError(f"unknown encScheme {shown!r}", code="unknown_seal_scheme") from None


class _ChunkCipher(Protocol):
    def seal(self, plaintext: bytes) -> bytes: ...
    def open(self, blob: bytes) -> bytes: ...


class ReplyOpener:
    """Requester side: opens the provider's reply chunks (SealError on failure)."""

    __slots__ = ("_cipher", "scheme")

    def __init__(self, scheme: SealScheme, cipher: _ChunkCipher) -> None:
        self.scheme = scheme
        self._cipher = cipher

    def open_chunk(self, blob: bytes) -> bytes:
        return self._cipher.open(blob)


class ReplySealer:
    """Provider side: seals each reply chunk separately with a fresh random nonce / IV."""

    __slots__ = ("_cipher", "scheme")

    def __init__(self, scheme: SealScheme, cipher: _ChunkCipher) -> None:
        self.scheme = scheme
        self._cipher = cipher

    def seal_chunk(self, plaintext: bytes) -> bytes:
        return self._cipher.seal(plaintext)


class EncryptionKeyPair:
    """The provider's long-lived encryption key: 32 secret bytes (X25519 secret or P-256 d)."""

    __slots__ = ("_p256", "_secret", "public_key_b64", "scheme")

    def __init__(self, scheme: SealScheme, secret: bytes) -> None:
        scheme = parse_seal_scheme(scheme)
        if not isinstance(secret, bytes) or len(secret) != 32:
            raise KeyFormatError(f"{scheme} secret must be 32 bytes")
        self.scheme = scheme
        self._secret = secret
        self._p256: SigningKey | None = None
        if scheme is SealScheme.X25519:
            self.public_key_b64 = b64encode(x25519_public_key(secret))
        else:
            self._p256 = SigningKey.from_scalar(int.from_bytes(secret, "big"))
            self.public_key_b64 = self._p256.public_key.to_cocore_b64()

    @classmethod
    def generate(cls, scheme: SealScheme) -> Self:
        if parse_seal_scheme(scheme) is SealScheme.X25519:
            return cls(scheme, os.urandom(32))  # every 32-byte string is an X25519 secret
        return cls(scheme, SigningKey.generate().to_scalar().to_bytes(32, "big"))

    @classmethod
    def from_secret_bytes(cls, scheme: SealScheme, data: bytes) -> Self:
        return cls(scheme, data)

    def secret_bytes(self) -> bytes:
        return self._secret

    def __repr__(self) -> str:
        return f"EncryptionKeyPair({self.scheme.value}, public={self.public_key_b64!r})"


def seal_request(
    scheme: SealScheme, recipient_public_key_b64: str, plaintext: bytes
) -> tuple[bytes, str, ReplyOpener]:
    """Seal a request with a fresh ephemeral key.

    Returns (blob, requester_pub_key_b64 to send out of band, the opener for the replies).
    A malformed recipient key raises KeyFormatError.
    """
    scheme = parse_seal_scheme(scheme)
    cipher: _ChunkCipher
    if scheme is SealScheme.X25519:
        recipient = _x25519_public(recipient_public_key_b64)
        ephemeral = os.urandom(32)
        cipher = BoxCipher(ephemeral, recipient)
        requester_pub = b64encode(x25519_public_key(ephemeral))
    else:
        eph_key = SigningKey.generate()
        cipher = GcmCipher.from_ecdh(eph_key, PublicKey.from_cocore_b64(recipient_public_key_b64))
        requester_pub = eph_key.public_key.to_cocore_b64()
    return cipher.seal(plaintext), requester_pub, ReplyOpener(scheme, cipher)


def open_request(
    keypair: EncryptionKeyPair, requester_pub_key_b64: str, blob: bytes
) -> tuple[bytes, ReplySealer]:
    """Open a request sealed to `keypair`; return (plaintext, the sealer for the replies).

    Raises SealError when the blob does not open, KeyFormatError for a malformed requester key.
    """
    cipher: _ChunkCipher
    if keypair._p256 is None:
        cipher = BoxCipher(keypair.secret_bytes(), _x25519_public(requester_pub_key_b64))
    else:
        requester = PublicKey.from_cocore_b64(requester_pub_key_b64)
        cipher = GcmCipher.from_ecdh(keypair._p256, requester)
    return cipher.open(blob), ReplySealer(keypair.scheme, cipher)


def _x25519_public(text: str) -> bytes:
    try:
        raw = b64decode_strict(text)
    except EncodingError as exc:
        raise KeyFormatError(f"X25519 public key: {exc}") from None
    if len(raw) != X25519_KEY_LEN:
        raise KeyFormatError(f"X25519 public key must be 32 bytes, got {len(raw)}")
    return raw
