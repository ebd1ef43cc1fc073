"""API keys (crypto.md §13): `cocore-` + b64url(32 random bytes); stored as SHA-256 hex."""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from .encoding import b64url_encode, sha256_hex
from .errors import ApiKeyError

__all__ = ["api_key_hash", "api_key_prefix", "generate_api_key", "parse_api_key"]

API_KEY_PREFIX = "cocore-"
API_KEY_LEN = 50
DISPLAY_PREFIX_LEN = 15
# 43 base64url characters hold 258 bits; the last one carries 2 zero pad bits.
_API_KEY_RE = re.compile(r"cocore-[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]")


def generate_api_key(rng_bytes: Callable[[int], bytes] = os.urandom) -> str:
    """A new key from 32 bytes of `rng_bytes` (inject a fixed source in tests)."""
    entropy = rng_bytes(32)
    if len(entropy) != 32:
        raise ApiKeyError("the random source returned the wrong number of bytes")
    return API_KEY_PREFIX + b64url_encode(entropy)


def parse_api_key(text: str) -> str:
    """Return `text` if it is exactly a cocore API key; the message never echoes the key."""
    if not isinstance(text, str):
        raise ApiKeyError(f"API key must be a string, got {type(text).__name__}")
    if not _API_KEY_RE.fullmatch(text):
        raise ApiKeyError("not a cocore API key (expected 'cocore-' + 43 base64url characters)")
    return text


def api_key_prefix(key: str) -> str:
    """The display prefix: the first 15 characters ('cocore-' + 8)."""
    return parse_api_key(key)[:DISPLAY_PREFIX_LEN]


def api_key_hash(key: str) -> str:
    """What the server stores and looks up: sha256 hex of the UTF-8 key (no salt)."""
    return sha256_hex(parse_api_key(key).encode("ascii"))
