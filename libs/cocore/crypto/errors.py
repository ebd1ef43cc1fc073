"""The crypto package's errors: one root (an InvalidInput) and a subclass per kind of bad input."""

from __future__ import annotations

from cocore.errors import InvalidInput

__all__ = [
    "ApiKeyError",
    "CryptoError",
    "EncodingError",
    "KeyFormatError",
    "SealError",
    "SignatureFormatError",
]


class CryptoError(InvalidInput):
    """Root of every error raised by `cocore.crypto`. Messages never hold secrets or plaintext."""

    default_code = "crypto_error"


class EncodingError(CryptoError):
    """Bytes or text are not in the strict encoding asked for (base64, base64url, UTF-8)."""

    default_code = "bad_encoding"


class KeyFormatError(CryptoError):
    """A public or private key is malformed, the wrong size, or not a point on the curve."""

    default_code = "bad_key"


class SignatureFormatError(CryptoError):
    """A signature is not strict DER / 64-byte r‖s, or r or s is out of range."""

    default_code = "bad_signature_encoding"


class SealError(CryptoError):
    """A sealed blob could not be opened (too short, tampered, or the wrong key)."""

    default_code = "seal_open_failed"


class ApiKeyError(CryptoError):
    """A string is not a well-formed cocore API key."""

    default_code = "invalid_api_key"
