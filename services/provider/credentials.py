"""The provider DID's PDS credentials, encrypted at rest with a key that never leaves the machine.

The key is HKDF-SHA256 over a random 32-byte secret in `keys/credentials.key` (0600), salted
with the OS machine id (IOPlatformUUID on macOS, /etc/machine-id on Linux); the file holds
AES-256-GCM of the JSON. What that protects against: the credentials file, or a copy of the
whole home (a backup, a synced folder, a support tarball), read anywhere but on this machine —
the app password stays sealed. It does NOT protect against code running as this user (or
root) on this machine, which can read the key file and the machine id just as the agent does.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import CredentialsUnreadable, NotLoggedIn
from .home import Home

VERSION = b"\x01"
INFO = b"cocore-provider/credentials/v1"
NONCE_BYTES = 12


@dataclass(frozen=True, slots=True)
class Credentials:
    identifier: str  # handle or DID
    password: str  # an app password
    pds_url: str

    def __repr__(self) -> str:  # never print the password
        return f"Credentials({self.identifier!r}, pds_url={self.pds_url!r})"


def save(home: Home, creds: Credentials, machine_id: str | None) -> None:
    key = _key(home, machine_id, create=True)
    body = json.dumps(
        {"identifier": creds.identifier, "password": creds.password, "pdsUrl": creds.pds_url}
    ).encode()
    nonce = os.urandom(NONCE_BYTES)
    blob = VERSION + nonce + AESGCM(key).encrypt(nonce, body, INFO)
    tmp = home.credentials_file.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(blob)
    tmp.replace(home.credentials_file)


def load(home: Home, machine_id: str | None) -> Credentials:
    if not home.credentials_file.exists():
        raise NotLoggedIn("no stored credentials; run `cocore-provider login`")
    blob = home.credentials_file.read_bytes()
    key = _key(home, machine_id, create=False)
    if len(blob) < 1 + NONCE_BYTES + 16 or blob[:1] != VERSION:
        raise CredentialsUnreadable("the credentials file is damaged; run `cocore-provider login`")
    try:
        body = AESGCM(key).decrypt(blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :], INFO)
        value = json.loads(body)
        return Credentials(value["identifier"], value["password"], value["pdsUrl"])
    except (InvalidTag, ValueError, KeyError, TypeError):
        raise CredentialsUnreadable(
            "the credentials do not decrypt on this machine; run `cocore-provider login`"
        ) from None


def _key(home: Home, machine_id: str | None, *, create: bool) -> bytes:
    path = home.credentials_key_file
    if not path.exists():
        if not create:
            raise CredentialsUnreadable(
                "the credentials key is missing; run `cocore-provider login`"
            )
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(32))
    secret = path.read_bytes()
    salt = (machine_id or "").encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=INFO).derive(secret)
