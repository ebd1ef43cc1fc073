"""Strict base64 / base64url helpers and SHA-256 hex: one spelling per byte string, nothing else."""

from __future__ import annotations

import base64
import hashlib
import re

from .errors import EncodingError

__all__ = ["b64decode_strict", "b64encode", "b64url_decode_strict", "b64url_encode", "sha256_hex"]

_B64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def b64encode(data: bytes) -> str:
    """Standard base64 with `=` padding (RFC 4648 §4)."""
    return base64.b64encode(data).decode("ascii")


def b64url_encode(data: bytes) -> str:
    """URL-safe base64 without padding (RFC 4648 §5)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode_strict(text: str) -> bytes:
    """Decode standard padded base64; reject whitespace, other alphabets and non-zero pad bits."""
    if not isinstance(text, str):
        raise EncodingError(f"expected a base64 string, got {type(text).__name__}")
    if len(text) % 4 or not _B64.fullmatch(text):
        raise EncodingError("not standard base64 (alphabet A-Z a-z 0-9 + /, '=' padding required)")
    data = base64.b64decode(text)
    if base64.b64encode(data) != text.encode("ascii"):
        raise EncodingError("not canonical base64 (misplaced padding or non-zero pad bits)")
    return data


def b64url_decode_strict(text: str) -> bytes:
    """Decode unpadded base64url; reject padding, the standard alphabet and non-zero pad bits."""
    if not isinstance(text, str):
        raise EncodingError(f"expected a base64url string, got {type(text).__name__}")
    if len(text) % 4 == 1 or not _B64URL.fullmatch(text):
        raise EncodingError("not base64url without padding (alphabet A-Z a-z 0-9 - _)")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url_encode(data) != text:
        raise EncodingError("not canonical base64url (non-zero pad bits)")
    return data


def sha256_hex(data: bytes) -> str:
    """SHA-256 as 64 lowercase hex characters."""
    return hashlib.sha256(data).hexdigest()
