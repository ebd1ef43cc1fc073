"""A directory holding one identity's keys: P-256 signing key and X25519 encryption key.

Files are created once with owner-only permissions and never overwritten, so a key is stable
across restarts (the reference regenerated its encryption key and stranded sealed jobs).
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cocore.crypto import EncryptionKeyPair, SealScheme, SigningKey, jwk_fingerprint
from cocore.errors import AlreadyExists, InvalidInput, NotFound

SIGNING_FILE = "signing-key.pem"
ENCRYPTION_FILE = "encryption-key.x25519"
PUBLIC_FILE = "public.json"


@dataclass(frozen=True)
class KeyDir:
    path: Path
    signing: SigningKey
    encryption: EncryptionKeyPair

    @classmethod
    def create(cls, path: Path) -> KeyDir:
        """Make fresh keys in `path` (created 0700). Refuses to replace existing keys."""
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        for name in (SIGNING_FILE, ENCRYPTION_FILE):
            if (path / name).exists():
                raise AlreadyExists(f"{path / name} already exists; keys are never overwritten")
        keys = cls(path, SigningKey.generate(), EncryptionKeyPair.generate(SealScheme.X25519))
        _write_private(path / SIGNING_FILE, keys.signing.to_pem())
        _write_private(path / ENCRYPTION_FILE, keys.encryption.secret_bytes())
        (path / PUBLIC_FILE).write_text(json.dumps(keys.public_summary(), indent=2) + "\n")
        return keys

    @classmethod
    def load(cls, path: Path) -> KeyDir:
        """Load keys, refusing files that other users can read."""
        for name in (SIGNING_FILE, ENCRYPTION_FILE):
            file = path / name
            if not file.exists():
                raise NotFound(f"{file} does not exist (create keys first)")
            if file.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise InvalidInput(f"{file} is readable by other users; run chmod 600 on it")
        signing = SigningKey.from_pem((path / SIGNING_FILE).read_bytes())
        secret = (path / ENCRYPTION_FILE).read_bytes()
        return cls(path, signing, EncryptionKeyPair.from_secret_bytes(SealScheme.X25519, secret))

    def public_summary(self) -> dict[str, Any]:
        jwk = self.signing.public_key.to_jwk()
        return {
            "publicKey": self.signing.public_key.to_cocore_b64(),
            "publicJwk": jwk,
            "signingKeyFingerprint": jwk_fingerprint(jwk),
            "encScheme": str(self.encryption.scheme),
            "encryptionPubKey": self.encryption.public_key_b64,
        }


def _write_private(file: Path, data: bytes) -> None:
    fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
