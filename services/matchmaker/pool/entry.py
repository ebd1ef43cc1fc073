"""One provider machine in the pool: what it serves, where it is, and how busy it is."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .versions import Version

if TYPE_CHECKING:
    from .scoring import MachineStats

ProviderKey = tuple[str, str]  # (did, machine_id)

TRUST_RANK = {"self-attested": 1, "hardware-attested": 2}
TIER_RANK = {"best-effort": 1, "attested-confidential": 2}


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: str
    context_length: int = 0
    tools: bool = False


@dataclass(frozen=True, slots=True)
class ProBono:
    """The machine's live pro-bono election; an unknown mode is off (fail closed to paid)."""

    mode: str = ""
    dids: frozenset[str] = frozenset()

    def applies_to(self, requester: str) -> bool:
        return self.mode == "any" or (self.mode == "direct" and requester in self.dids)


@dataclass(frozen=True, slots=True)
class StrongRef:
    uri: str
    cid: str


@dataclass(frozen=True, slots=True)
class Identity:
    """What a registration proved: keys and the verified attestation record."""

    did: str
    machine_id: str
    attestation_pub_key: str
    encryption_pub_key: str
    enc_scheme: str
    attestation: StrongRef
    attestation_expires_at: float  # wall clock, from the record's expiresAt
    trust_level: str = "self-attested"
    tier: str = "best-effort"

    @property
    def key(self) -> ProviderKey:
        return (self.did, self.machine_id)


@dataclass(slots=True, eq=False)
class ProviderEntry:
    """Mutable pool state of one machine; identity is `key`, objects compare by identity."""

    identity: Identity
    models: dict[str, ModelInfo]
    slots: int
    version: Version | None
    binary_version: str = ""
    country: str = ""
    pro_bono: ProBono = field(default_factory=ProBono)
    label: str = ""
    replica_id: str = ""
    address: str = ""  # the owning replica's gRPC address (for forwarding)
    remote: bool = False
    in_use: int = 0  # slots held by leases and running jobs
    draining: bool = False
    attested_at: float | None = None  # wall clock of the last good challenge answer
    sip_enabled: bool | None = None
    load: float = 0.0
    queued: int = 0
    connected_at: float = 0.0
    stats: MachineStats | None = None  # measurements, attached by the pool (kept by key)
    # Plain attributes, not properties: a pick reads them for every candidate.
    key: ProviderKey = field(init=False)
    did: str = field(init=False)
    machine_id: str = field(init=False)

    def __post_init__(self) -> None:
        self.did, self.machine_id = self.identity.did, self.identity.machine_id
        self.key = (self.did, self.machine_id)

    @property
    def free(self) -> int:
        return max(0, self.slots - self.in_use)

    def is_open(self) -> bool:
        """Can take a job as far as slots and the machine's own state go."""
        return self.in_use < self.slots and not self.draining

    def attestation_fresh(self, now: float, max_age_s: float) -> bool:
        return (
            self.attested_at is not None
            and now - self.attested_at <= max_age_s
            and self.identity.attestation_expires_at > now
        )
