"""Who the machine is and how its link behaves (the agent fills these from its config)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from cocore.crypto import SealScheme, SigningKey

from .types import LoadReport, ModelSpec, ProBono, StrongRef

# Returns a fresh service-auth JWT for the DID (aud = the matchmaker's DID, lxm = CONNECT_LXM).
TokenSource = Callable[[], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class Posture:
    """Measured host posture for challenge answers; None means "not measured" (never guessed)."""

    sip_enabled: bool | None = None
    hypervisor_present: bool | None = None


@dataclass(frozen=True, slots=True)
class LinkIdentity:
    did: str
    machine_id: str  # the provider record's rkey
    attestation_key: SigningKey
    attestation: StrongRef  # the current compute.attestation record
    encryption_pub_key: str  # b64
    enc_scheme: SealScheme = SealScheme.X25519


@dataclass(frozen=True, slots=True)
class LinkSettings:
    address: str  # host:port of the matchmaker
    models: tuple[ModelSpec, ...]
    slots: int
    binary_version: str
    country: str = ""
    pro_bono: ProBono = field(default_factory=ProBono)
    machine_label: str = ""
    connect_timeout_s: float = 15.0
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0
    healthy_after_s: float = 30.0  # a stream that lived this long resets the backoff
    retention_s: float = 45.0  # held jobs survive this long without a stream
    keepalive_interval_s: float = 10.0
    max_message_bytes: int = 4 * 1024 * 1024
    replay_budget_bytes: int = 32 * 1024 * 1024
    tls: bool = False  # dial the matchmaker over TLS
    ca_file: str | None = None  # PEM roots for its certificate (None: the system's)


def no_load() -> LoadReport:
    return LoadReport()


def no_posture() -> Posture:
    return Posture()


LoadProbe = Callable[[], LoadReport]
PostureProbe = Callable[[], Posture]
