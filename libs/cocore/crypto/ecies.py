"""p256-ecies-se (crypto.md §6b): ECDH X → HKDF-SHA256 → AES-256-GCM, blob = iv ‖ ct ‖ tag."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import CryptoError, SealError
from .keys import PublicKey, SigningKey

__all__ = ["HKDF_INFO", "GcmCipher", "ecies_derive_key", "ecies_open", "ecies_seal"]

HKDF_INFO = b"cocore/p256-ecies-se/v1"
HKDF_SALT = bytes(32)
IV_LEN = 12
TAG_LEN = 16


def ecies_derive_key(shared_z: bytes) -> bytes:
    """key = HKDF-SHA256(salt = 32 zero bytes, IKM = Z, info = cocore/p256-ecies-se/v1, L = 32)."""
    return HKDF(hashes.SHA256(), 32, HKDF_SALT, HKDF_INFO).derive(shared_z)


class GcmCipher:
    """AES-256-GCM under one derived key; every blob carries its own 12-byte IV, no AAD."""

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    @classmethod
    def from_ecdh(cls, private: SigningKey, peer: PublicKey) -> GcmCipher:
        return cls(ecies_derive_key(private.ecdh(peer)))

    def seal(self, plaintext: bytes, iv: bytes | None = None) -> bytes:
        """Seal `plaintext`; `iv` defaults to 12 fresh random bytes (pass one only in tests)."""
        if not isinstance(plaintext, bytes):
            raise CryptoError(f"plaintext must be bytes, got {type(plaintext).__name__}")
        iv = os.urandom(IV_LEN) if iv is None else iv
        if len(iv) != IV_LEN:
            raise SealError(f"iv must be {IV_LEN} bytes")
        return iv + self._aead.encrypt(iv, plaintext, None)

    def open(self, blob: bytes) -> bytes:
        """Open one blob; SealError if it is shorter than iv+tag or does not authenticate."""
        if not isinstance(blob, bytes) or len(blob) < IV_LEN + TAG_LEN:
            raise SealError(f"sealed blob shorter than {IV_LEN + TAG_LEN} bytes")
        try:
            return self._aead.decrypt(blob[:IV_LEN], blob[IV_LEN:], None)
        except InvalidTag:
            raise SealError("sealed blob did not authenticate (tampered or wrong key)") from None


def ecies_seal(
    recipient: PublicKey,
    plaintext: bytes,
    *,
    ephemeral: SigningKey | None = None,
    iv: bytes | None = None,
) -> tuple[bytes, str]:
    """Seal to `recipient`; return (blob, epk b64). Fixed `ephemeral`/`iv` are for vectors only."""
    ephemeral = SigningKey.generate() if ephemeral is None else ephemeral
    blob = GcmCipher.from_ecdh(ephemeral, recipient).seal(plaintext, iv)
    return blob, ephemeral.public_key.to_cocore_b64()


def ecies_open(recipient: SigningKey, epk_b64: str, blob: bytes) -> bytes:
    """Open a blob sealed to `recipient` by the sender whose ephemeral public key is `epk_b64`."""
    return GcmCipher.from_ecdh(recipient, PublicKey.from_cocore_b64(epk_b64)).open(blob)
