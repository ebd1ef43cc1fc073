"""NaCl crypto_box (encScheme `x25519`, crypto.md §6a): wire = nonce(24) ‖ tag(16) ‖ ciphertext."""

from __future__ import annotations

import nacl.bindings
import nacl.exceptions
import nacl.public

from .errors import CryptoError, KeyFormatError, SealError

__all__ = ["BoxCipher", "box_open", "box_seal", "x25519_public_key", "x25519_shared"]

X25519_KEY_LEN = 32
NONCE_LEN = 24
TAG_LEN = 16


class BoxCipher:
    """One X25519 pair (my secret, peer public) → the beforenm key; seals and opens frames.

    The key is the same in both directions, so the requester's cipher opens the provider's
    replies and the provider's cipher opens the request.
    """

    __slots__ = ("_box",)

    def __init__(self, secret: bytes, peer_public: bytes) -> None:
        _require_key("secret", secret)
        _require_key("public", peer_public)
        try:
            self._box = nacl.public.Box(
                nacl.public.PrivateKey(secret), nacl.public.PublicKey(peer_public)
            )
        except nacl.exceptions.CryptoError:
            # libsodium refuses a low-order public key (the shared point would be zero).
            raise KeyFormatError("X25519 public key is a low-order point") from None

    @property
    def shared_key(self) -> bytes:
        """The NaCl `beforenm` key (HSalsa20 of the X25519 output)."""
        return bytes(self._box.shared_key())

    def seal(self, plaintext: bytes, nonce: bytes | None = None) -> bytes:
        """Box `plaintext`; `nonce` defaults to 24 fresh random bytes (pass one only in tests)."""
        if not isinstance(plaintext, bytes):
            raise CryptoError(f"plaintext must be bytes, got {type(plaintext).__name__}")
        if nonce is not None and len(nonce) != NONCE_LEN:
            raise SealError(f"nonce must be {NONCE_LEN} bytes")
        return bytes(self._box.encrypt(plaintext, nonce))

    def open(self, framed: bytes) -> bytes:
        """Open one frame; SealError if it is shorter than nonce+tag or does not authenticate."""
        if not isinstance(framed, bytes) or len(framed) < NONCE_LEN + TAG_LEN:
            raise SealError(f"sealed box shorter than {NONCE_LEN + TAG_LEN} bytes")
        try:
            return bytes(self._box.decrypt(framed))
        except nacl.exceptions.CryptoError:
            raise SealError("sealed box did not authenticate (tampered or wrong key)") from None


def box_seal(
    secret: bytes, peer_public: bytes, plaintext: bytes, nonce: bytes | None = None
) -> bytes:
    return BoxCipher(secret, peer_public).seal(plaintext, nonce)


def box_open(secret: bytes, peer_public: bytes, framed: bytes) -> bytes:
    return BoxCipher(secret, peer_public).open(framed)


def x25519_public_key(secret: bytes) -> bytes:
    _require_key("secret", secret)
    return bytes(nacl.public.PrivateKey(secret).public_key)


def x25519_shared(secret: bytes, peer_public: bytes) -> bytes:
    """The raw X25519 output (before NaCl's HSalsa20 step); for the vectors."""
    _require_key("secret", secret)
    _require_key("public", peer_public)
    try:
        return bytes(nacl.bindings.crypto_scalarmult(secret, peer_public))
    except nacl.exceptions.CryptoError:
        raise KeyFormatError("X25519 public key is a low-order point") from None


def _require_key(kind: str, key: bytes) -> None:
    if not isinstance(key, bytes) or len(key) != X25519_KEY_LEN:
        raise KeyFormatError(f"X25519 {kind} key must be {X25519_KEY_LEN} bytes")
