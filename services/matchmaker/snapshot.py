"""A machine's routing facts as directory JSON, so other replicas can pick it."""

from __future__ import annotations

from typing import Any

from .pool import Identity, ModelInfo, ProBono, ProviderEntry, StrongRef, parse_version


def to_snapshot(e: ProviderEntry) -> dict[str, Any]:
    i = e.identity
    return {
        "models": [[m.id, m.context_length, m.tools] for m in e.models.values()],
        "slots": e.slots,
        "free": e.free,
        "country": e.country,
        "version": e.binary_version,
        "label": e.label,
        "trust": i.trust_level,
        "tier": i.tier,
        "encKey": i.encryption_pub_key,
        "encScheme": i.enc_scheme,
        "attKey": i.attestation_pub_key,
        "attUri": i.attestation.uri,
        "attCid": i.attestation.cid,
        "attExpiresMs": round(i.attestation_expires_at * 1000),
        "attestedMs": None if e.attested_at is None else round(e.attested_at * 1000),
        "proBono": [e.pro_bono.mode, sorted(e.pro_bono.dids)],
        "draining": e.draining,
        "loadMilli": round(e.load * 1000),
        "queued": e.queued,
    }


def from_snapshot(
    did: str, machine_id: str, replica_id: str, address: str, s: dict[str, Any]
) -> ProviderEntry:
    """A remote entry (its slot count is the owner's last published estimate)."""
    identity = Identity(
        did=did,
        machine_id=machine_id,
        attestation_pub_key=s["attKey"],
        encryption_pub_key=s["encKey"],
        enc_scheme=s["encScheme"],
        attestation=StrongRef(s["attUri"], s["attCid"]),
        attestation_expires_at=s["attExpiresMs"] / 1000,
        trust_level=s["trust"],
        tier=s["tier"],
    )
    slots = int(s["slots"])
    attested = s.get("attestedMs")
    return ProviderEntry(
        identity=identity,
        models={m[0]: ModelInfo(m[0], int(m[1]), bool(m[2])) for m in s["models"]},
        slots=slots,
        version=parse_version(s["version"]),
        binary_version=s["version"],
        country=s["country"],
        pro_bono=ProBono(s["proBono"][0], frozenset(s["proBono"][1])),
        label=s["label"],
        replica_id=replica_id,
        address=address,
        remote=True,
        in_use=max(0, slots - int(s["free"])),
        draining=bool(s["draining"]),
        attested_at=None if attested is None else attested / 1000,
        load=s["loadMilli"] / 1000,
        queued=int(s["queued"]),
    )
