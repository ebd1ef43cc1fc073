"""The agent's home directory: where each file lives; `init` makes keys once and keeps them."""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cocore.errors import AlreadyExists, CocoreError
from cocore.keystore import ENCRYPTION_FILE, SIGNING_FILE, KeyDir

from .errors import NotInitialised

OWNER_ONLY_DIR = 0o700


@dataclass(frozen=True, slots=True)
class Home:
    root: Path

    @property
    def keys_dir(self) -> Path:
        return self.root / "keys"

    @property
    def config_file(self) -> Path:
        return self.root / "config.toml"

    @property
    def credentials_file(self) -> Path:
        return self.root / "credentials.enc"

    @property
    def credentials_key_file(self) -> Path:
        return self.keys_dir / "credentials.key"

    @property
    def outbox_file(self) -> Path:
        return self.root / "outbox.sqlite"

    @property
    def status_file(self) -> Path:
        return self.root / "status.json"

    @property
    def record_cache_file(self) -> Path:
        """`{did, attestationPubKey, rkey}` of this machine's provider record."""
        return self.root / "provider-record.json"

    @property
    def policy_cache_file(self) -> Path:
        """The last exchange policy read, so a restart during an exchange outage still prices."""
        return self.root / "exchange-policy.json"

    def has_keys(self) -> bool:
        return all((self.keys_dir / n).exists() for n in (SIGNING_FILE, ENCRYPTION_FILE))

    def init(self) -> tuple[KeyDir, bool]:
        """Create the home and keys (owner-only); an existing key pair is kept as it is.

        Returns the keys and whether they were created now.
        """
        self.root.mkdir(mode=OWNER_ONLY_DIR, parents=True, exist_ok=True)
        os.chmod(self.root, OWNER_ONLY_DIR)
        if self.has_keys():
            return self.keys(), False
        try:
            return KeyDir.create(self.keys_dir), True
        except AlreadyExists:  # half a key pair: never replace what is there
            raise NotInitialised(
                f"{self.keys_dir} holds only part of a key pair; restore it from a backup"
            ) from None

    def keys(self) -> KeyDir:
        if not self.has_keys():
            raise NotInitialised(f"no keys in {self.keys_dir}; run `cocore-provider init`")
        return KeyDir.load(self.keys_dir)

    def read_json(self, path: Path) -> dict[str, Any] | None:
        """A small JSON state file, or None when missing or unreadable (it is only a cache)."""
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    async def save_json(self, path: Path, value: dict[str, Any]) -> None:
        """`write_json` from the serving loop: on a worker thread, because a rename over a
        file can wait on the filesystem's journal (1–8 ms here while the PDS commits, which
        held up every job the loop was serving)."""
        await asyncio.to_thread(self.write_json, path, value)

    def write_json(self, path: Path, value: dict[str, Any]) -> None:
        """Atomic replace with owner-only permissions."""
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(value, f, indent=1, sort_keys=True)
        tmp.replace(path)


def describe_key_problem(home: Home) -> str | None:
    """Why the keys cannot be used, or None when they load."""
    try:
        home.keys()
    except CocoreError as e:
        return e.message
    return None
