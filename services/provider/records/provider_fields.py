"""The fields the agent authors on its provider record, from what it measured and loaded."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cocore.crypto import serial_number_hash
from cocore.keystore import KeyDir
from cocore.syntax import Did, format_datetime

from ..engine import EngineFault
from ..host import HostFacts
from .pricing import TokenRate

MAX_FAULT_MESSAGE = 600


@dataclass(frozen=True, slots=True)
class MachineState:
    """What changes while the agent runs; everything else comes from the host and keys."""

    models: tuple[str, ...]  # the supported models to advertise
    provisioning: bool
    serving: bool
    faults: Mapping[str, EngineFault]
    attestation_fault: str = ""


def provider_fields(
    facts: HostFacts,
    keys: KeyDir,
    did: Did,
    *,
    label: str,
    binary_version: str,
    rate: TokenRate,
    state: MachineState,
    now: datetime,
) -> dict[str, Any]:
    stamp = str(format_datetime(now))
    fields: dict[str, Any] = {
        "machineLabel": label[:128],
        "chip": facts.chip[:64],
        "ramGB": max(1, facts.ram_gb),
        "cpuCores": max(1, facts.cpu_cores),
        "os": facts.os_version[:64],
        "supportedModels": list(state.models),
        "priceList": rate.price_list(state.models),
        "encryptionPubKey": keys.encryption.public_key_b64,
        "attestationPubKey": keys.signing.public_key.to_cocore_b64(),
        "trustLevel": "self-attested",  # no Apple evidence binds this key: never more
        "tier": "best-effort",
        "binaryVersion": binary_version[:64],
        "provisioning": state.provisioning,
        "serving": state.serving,
        "createdAt": stamp,
    }
    if facts.model_identifier:
        fields["modelIdentifier"] = facts.model_identifier[:64]
    if facts.serial:
        fields["machineFingerprint"] = serial_number_hash(facts.serial, did)
    if state.faults:
        fields["engineFault"] = engine_fault(list(state.faults.values()), stamp)
    if state.attestation_fault:
        fields["attestationFault"] = {
            "code": "attestation-publish-failed",
            "message": f"the attestation record could not be published ({state.attestation_fault})"
            "; receipts keep using the previous one until it expires",
            "at": stamp,
        }
    return fields


def engine_fault(faults: Sequence[EngineFault], stamp: str) -> dict[str, Any]:
    """One `engineFault` for every model that failed to load (content-safe messages only)."""
    codes = sorted({f.code for f in faults})
    message = "; ".join(f"{f.model}: {f.message}" for f in faults)
    message += " — check `cocore-provider models list` and `cocore-provider doctor`"
    return {
        "code": codes[0] if len(codes) == 1 else "model-load-failed",
        "message": message[:MAX_FAULT_MESSAGE],
        "models": [f.model[:256] for f in faults],
        "at": stamp,
    }
