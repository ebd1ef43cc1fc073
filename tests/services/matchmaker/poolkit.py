"""Builders for pool unit tests: machines with sensible defaults and a controllable clock."""

from __future__ import annotations

import random

from services.matchmaker.pool import (
    Identity,
    LeaseSigner,
    ModelInfo,
    Pool,
    ProBono,
    ProviderEntry,
    StrongRef,
    parse_version,
)
from services.matchmaker.settings import PoolSettings

NOW = 1_800_000_000.0


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def machine(
    did: str,
    machine_id: str = "m1",
    *,
    models: tuple[str, ...] = ("tiny",),
    slots: int = 2,
    country: str = "",
    version: str = "1.0.0",
    tools: bool = False,
    context: int = 4096,
    trust: str = "self-attested",
    pro_bono: ProBono | None = None,
    attested_at: float | None = NOW,
    expires_at: float = NOW + 86_400,
) -> ProviderEntry:
    identity = Identity(
        did=did,
        machine_id=machine_id,
        attestation_pub_key="k",
        encryption_pub_key="e",
        enc_scheme="x25519",
        attestation=StrongRef(f"at://{did}/dev.cocore.compute.attestation/3k", "bafy"),
        attestation_expires_at=expires_at,
        trust_level=trust,
    )
    return ProviderEntry(
        identity=identity,
        models={m: ModelInfo(m, context, tools) for m in models},
        slots=slots,
        version=parse_version(version),
        binary_version=version,
        country=country,
        pro_bono=pro_bono or ProBono(),
        attested_at=attested_at,
    )


def make_pool(
    clock: Clock | None = None, settings: PoolSettings | None = None, seed: int = 7
) -> Pool:
    return Pool(
        settings or PoolSettings(),
        replica_id="r1",
        signer=LeaseSigner(b"k" * 32),
        attestation_max_age_s=390.0,
        clock=clock or Clock(),
        rng=random.Random(seed),
    )
