"""PDS credentials at rest: AES-256-GCM, a fresh nonce per write, the DID as associated data.

The associated data binds a blob to its account: a row copied onto another DID does not open.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import Unavailable

NONCE_BYTES = 12


@dataclass(frozen=True, slots=True)
class Credentials:
    """An app-password login: the password re-creates the session if refresh ever fails."""

    identifier: str
    password: str = field(repr=False)
    access_jwt: str = field(repr=False)
    refresh_jwt: str = field(repr=False)


class CredentialBox:
    def __init__(self, key: bytes, rng_bytes: Callable[[int], bytes] = os.urandom) -> None:
        self._aead = AESGCM(key)
        self._rng = rng_bytes

    def seal(self, did: str, credentials: Credentials) -> bytes:
        nonce = self._rng(NONCE_BYTES)
        plaintext = json.dumps(asdict(credentials), separators=(",", ":")).encode()
        return nonce + self._aead.encrypt(nonce, plaintext, did.encode())

    def open(self, did: str, blob: bytes) -> Credentials:
        try:
            plaintext = self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], did.encode())
        except (InvalidTag, ValueError):
            raise Unavailable(
                "stored credentials do not open (wrong key?); log in again",
                code="credentials_unreadable",
            ) from None
        return Credentials(**json.loads(plaintext))
