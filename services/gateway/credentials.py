"""PDS credentials at rest: AES-256-GCM, a fresh nonce per write, the DID as associated data.

The associated data binds a blob to its account: a row copied onto another DID does not open.
A box seals with its current key and also opens what older keys sealed (key rotation): such a
blob is reported as stale, and the store seals it again under the current key.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
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
    def __init__(
        self,
        key: bytes,
        old_keys: Sequence[bytes] = (),
        rng_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self._aead = AESGCM(key)
        self._old = [AESGCM(k) for k in old_keys if k != key]
        self._rng = rng_bytes

    @property
    def rotating(self) -> bool:
        """Older keys are still accepted: blobs may wait to be sealed again."""
        return bool(self._old)

    def seal(self, did: str, credentials: Credentials) -> bytes:
        nonce = self._rng(NONCE_BYTES)
        plaintext = json.dumps(asdict(credentials), separators=(",", ":")).encode()
        return nonce + self._aead.encrypt(nonce, plaintext, did.encode())

    def open(self, did: str, blob: bytes) -> Credentials:
        return self.unseal(did, blob)[0]

    def unseal(self, did: str, blob: bytes) -> tuple[Credentials, bool]:
        """The credentials, and whether an older key sealed them (then seal them again)."""
        for index, aead in enumerate([self._aead, *self._old]):
            try:
                plaintext = aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], did.encode())
            except (InvalidTag, ValueError):
                continue
            return Credentials(**json.loads(plaintext)), index > 0
        raise Unavailable(
            "stored credentials do not open (wrong key?); log in again",
            code="credentials_unreadable",
        )
