"""Slot leases: an HMAC-signed token any replica can check, plus the slots held for them."""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass

from cocore.crypto import EncodingError, b64url_decode_strict, b64url_encode

from ..errors import LeaseInvalid
from .entry import ProviderEntry

_PREFIX = "v1"
_MAC_BYTES = 16
MAX_LEASE_CHARS = 2048
_ENCODER = json.JSONEncoder(separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class LeaseClaims:
    lease_id: str
    did: str
    machine_id: str
    model: str
    replica_id: str  # the replica that issued it (and holds the slot if it reserved one)
    expires_at: float  # wall clock

    def to_json(self) -> list[object]:
        return [self.lease_id, self.did, self.machine_id, self.model, self.replica_id,
                round(self.expires_at * 1000)]  # fmt: skip


class LeaseSigner:
    """Mints and checks lease tokens with a key every replica shares."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("lease key must be at least 16 bytes")
        self._key = key

    def mint(self, claims: LeaseClaims) -> str:
        body = b64url_encode(_ENCODER.encode(claims.to_json()).encode())
        return f"{_PREFIX}.{body}.{b64url_encode(self._mac(body))}"

    def verify(self, token: str, now: float) -> LeaseClaims:
        """The claims of a genuine, unexpired lease; LeaseInvalid (code says why) otherwise."""
        parts = token.split(".") if len(token) <= MAX_LEASE_CHARS else []
        if len(parts) != 3 or parts[0] != _PREFIX:
            raise LeaseInvalid("lease is not a matchmaker lease")
        try:
            mac = b64url_decode_strict(parts[2])
            raw = json.loads(b64url_decode_strict(parts[1]))
        except (EncodingError, ValueError):
            raise LeaseInvalid("lease is not a matchmaker lease") from None
        if not hmac.compare_digest(mac, self._mac(parts[1])):
            raise LeaseInvalid("lease signature does not match", code="lease_forged")
        claims = _claims(raw)
        if claims.expires_at <= now:
            raise LeaseInvalid("lease has expired; pick again", code="lease_expired")
        return claims

    def _mac(self, body: str) -> bytes:
        return hmac.digest(self._key, body.encode("ascii"), "sha256")[:_MAC_BYTES]


def _claims(raw: object) -> LeaseClaims:
    if not isinstance(raw, list) or len(raw) != 6:
        raise LeaseInvalid("lease claims are malformed")
    lease_id, did, machine_id, model, replica_id, expires = raw
    texts = (lease_id, did, machine_id, model, replica_id)
    if not all(isinstance(t, str) for t in texts) or type(expires) is not int:
        raise LeaseInvalid("lease claims are malformed")
    return LeaseClaims(lease_id, did, machine_id, model, replica_id, expires / 1000)


class Reservations:
    """Slots held for leases this replica issued; released on use, on expiry or on demand."""

    def __init__(self, release: Callable[[ProviderEntry], None]) -> None:
        self._release = release
        self._held: dict[str, tuple[ProviderEntry, float]] = {}

    def __len__(self) -> int:
        return len(self._held)

    def hold(self, lease_id: str, entry: ProviderEntry, expires_at: float) -> None:
        self._held[lease_id] = (entry, expires_at)

    def take(self, lease_id: str) -> ProviderEntry | None:
        """Hand the held slot over to a dispatch (None when the lease holds none)."""
        found = self._held.pop(lease_id, None)
        return found[0] if found else None

    def drop(self, lease_id: str) -> bool:
        found = self._held.pop(lease_id, None)
        if found is not None:
            self._release(found[0])
        return found is not None

    def sweep(self, now: float) -> int:
        expired = [lid for lid, (_, exp) in self._held.items() if exp <= now]
        for lease_id in expired:
            self.drop(lease_id)
        return len(expired)

    def drop_for(self, entry: ProviderEntry) -> None:
        """The machine left: forget its holds (its slot count leaves with it)."""
        for lease_id in [lid for lid, (e, _) in self._held.items() if e is entry]:
            del self._held[lease_id]
