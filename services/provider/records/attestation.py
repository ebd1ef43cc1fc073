"""The `compute.attestation` record: only measured facts, 24 h validity, renewed well before expiry.

Every claim is one this Python process can stand behind: a software P-256 key (so
`secureEnclaveAvailable: false`, `tier: best-effort`, no App Attest or MDA evidence), SIP and
the authenticated root only as `csrutil` reports them on macOS (false wherever they were not
measured true), no secure-boot claim, and none of the optional hardening flags.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import cocore
from cocore.atproto import AtprotoClient, AtprotoError
from cocore.crypto import SealScheme, serial_number_hash
from cocore.keystore import KeyDir
from cocore.lexicon import ids
from cocore.signing import sign_attestation
from cocore.syntax import Did, format_datetime, parse_datetime

from ..host import HostFacts
from ..link import StrongRef

log = logging.getLogger("cocore.provider.attestation")
Clock = Callable[[], datetime]
OnRenewed = Callable[[StrongRef], None]
UNKNOWN_SERIAL = "unknown-serial"


@dataclass(frozen=True, slots=True)
class Attestation:
    ref: StrongRef
    attested_at: datetime
    expires_at: datetime
    record: dict[str, Any]

    def valid_at(self, moment: datetime) -> bool:
        return self.attested_at <= moment <= self.expires_at


def build_attestation(
    facts: HostFacts, keys: KeyDir, did: Did, *, code_hash: str, now: datetime, validity_s: float
) -> dict[str, Any]:
    """The signed record (with `$type`, so its CID is the one the PDS computes)."""
    record: dict[str, Any] = {
        "$type": ids.COMPUTE_ATTESTATION,
        "publicKey": keys.signing.public_key.to_cocore_b64(),
        "encryptionPubKey": keys.encryption.public_key_b64,
        "chipName": facts.chip[:64],
        "hardwareModel": facts.hardware_model[:64],
        "serialNumberHash": serial_number_hash(facts.serial or UNKNOWN_SERIAL, did),
        "osVersion": facts.os_version[:64],
        "binaryHash": code_hash,
        "sipEnabled": facts.sip_enabled is True,
        "secureBootEnabled": False,  # not measurable from here: never claimed
        "secureEnclaveAvailable": False,  # the signing key is a software key
        "authenticatedRootEnabled": facts.authenticated_root is True,
        "tier": "best-effort",
        "attestedAt": str(format_datetime(now)),
        "expiresAt": str(format_datetime(now + timedelta(seconds=validity_s))),
    }
    if keys.encryption.scheme is not SealScheme.X25519:
        record["encScheme"] = keys.encryption.scheme.value
    return sign_attestation(record, keys.signing)


def code_hash(roots: tuple[Path, ...] | None = None) -> str:
    """SHA-256 over the agent's code (every .py of `cocore` and `services.provider`), the
    Python agent's equivalent of the reference's binary hash; informational, like there."""
    if roots is None:
        here = Path(__file__).resolve().parents[1]
        roots = (Path(cocore.__file__).resolve().parent, here)
    digest = hashlib.sha256()
    for root in roots:
        for file in sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts):
            digest.update(str(file.relative_to(root.parent)).encode() + b"\0")
            digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


class AttestationKeeper:
    """Holds the current attestation; `renew_if_due` publishes a new one well before expiry."""

    def __init__(
        self,
        client: AtprotoClient,
        keys: KeyDir,
        facts: HostFacts,
        *,
        code: str,
        clock: Clock,
        validity_s: float,
        renew_before_s: float,
    ) -> None:
        self._client = client
        self._keys = keys
        self._facts = facts
        self._code = code
        self._clock = clock
        self._validity_s = validity_s
        self._renew_before_s = renew_before_s
        self.current: Attestation | None = None
        self.fault: str = ""  # the last publish failure, "" when the current one is fine
        self.listeners: list[OnRenewed] = []

    def usable(self, moment: datetime, margin_s: float = 0.0) -> Attestation | None:
        """The current attestation if `moment` (+ margin) is inside its window, else None."""
        att = self.current
        if att is None or not att.valid_at(moment):
            return None
        return att if moment + timedelta(seconds=margin_s) <= att.expires_at else None

    def due(self) -> bool:
        att = self.current
        if att is None:
            return True
        return att.expires_at - self._clock() <= timedelta(seconds=self._renew_before_s)

    async def publish(self) -> Attestation:
        """Publish a fresh record now (AtprotoError when the PDS refuses or is down)."""
        did = self._client.did
        now = self._clock()
        record = build_attestation(
            self._facts, self._keys, did, code_hash=self._code, now=now, validity_s=self._validity_s
        )
        result = await self._client.create_record(ids.COMPUTE_ATTESTATION, record)
        att = Attestation(
            StrongRef(str(result.uri), str(result.cid)),
            parse_datetime(record["attestedAt"]).value,
            parse_datetime(record["expiresAt"]).value,
            record,
        )
        self.current, self.fault = att, ""
        for listener in self.listeners:
            listener(att.ref)
        return att

    async def renew_if_due(self) -> bool:
        """True when a new record was published; a failure keeps the old one (until it expires)."""
        if not self.due():
            return False
        try:
            await self.publish()
        except AtprotoError as e:
            self.fault = e.code
            log.warning("attestation renewal failed: %s", e.code)
            return False
        return True
