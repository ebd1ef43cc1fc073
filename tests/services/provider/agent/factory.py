"""Offline building blocks for the agent's unit tests: host facts, keys, records, a job."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cocore.crypto import EncryptionKeyPair, SealScheme, SigningKey, sha256_hex
from cocore.keystore import KeyDir
from cocore.lexicon import ids
from cocore.syntax import (
    format_datetime,
    make_at_uri,
    next_tid,
    parse_did,
    parse_record_key,
    record_cid,
)
from services.provider.host import HostFacts
from services.provider.link import StrongRef
from services.provider.records.attestation import Attestation, build_attestation

PROVIDER = parse_did("did:plc:provider000000000000000000")
REQUESTER = parse_did("did:plc:requester00000000000000000")
EXCHANGE = parse_did("did:plc:exchange0000000000000000000")
T0 = datetime(2026, 5, 7, 12, 0, 0, tzinfo=UTC)

LINUX = HostFacts(
    system="Linux", os_version="Linux 6.8 (Debian 12)", chip="Test CPU", hardware_model="x86_64",
    model_identifier=None, ram_gb=16, cpu_cores=8, serial="machine-id-0", machine_uuid="m-0",
    sip_enabled=None, authenticated_root=None,
)  # fmt: skip
MAC = HostFacts(
    system="Darwin", os_version="macOS 14.5", chip="Apple M2", hardware_model="Mac14,3",
    model_identifier="Mac14,3", ram_gb=32, cpu_cores=8, serial="C02XYZ", machine_uuid="UUID-1",
    sip_enabled=True, authenticated_root=True,
)  # fmt: skip


def keys(tmp: Path, scheme: SealScheme = SealScheme.X25519) -> KeyDir:
    kd = KeyDir.create(tmp / f"keys-{secrets.token_hex(3)}")
    if scheme is SealScheme.X25519:
        return kd
    return KeyDir(kd.path, kd.signing, EncryptionKeyPair.generate(scheme))


def attestation(kd: KeyDir, *, at: datetime = T0, hours: float = 24) -> Attestation:
    record = build_attestation(
        LINUX, kd, PROVIDER, code_hash="ab" * 32, now=at, validity_s=hours * 3600
    )
    uri = make_at_uri(PROVIDER, ids.COMPUTE_ATTESTATION, parse_record_key(next_tid()))
    return Attestation(
        StrongRef(str(uri), str(record_cid(record))), at, at + timedelta(hours=hours), record
    )


def job_record(plaintext: bytes, *, max_tokens: int = 64, ceiling: int = 10_000) -> dict[str, Any]:
    return {
        "$type": ids.COMPUTE_JOB, "model": "fake", "inputCommitment": sha256_hex(plaintext),
        "inputFormat": "messages-v1", "maxTokensOut": max_tokens,
        "priceCeiling": {"amount": ceiling, "currency": "CC"},
        "acceptedTrustLevel": "self-attested",
        "paymentAuthorization": {"uri": f"at://{REQUESTER}/{ids.COMPUTE_PAYMENT_AUTHORIZATION}/"
                                        "3l2aaaaaaaaaa", "cid": str(record_cid({"a": 1}))},
        "nonce": "ab" * 16, "expiresAt": str(format_datetime(T0 + timedelta(hours=2))),
        "createdAt": str(format_datetime(T0)),
    }  # fmt: skip


def job_ref(record: dict[str, Any]) -> StrongRef:
    uri = make_at_uri(REQUESTER, ids.COMPUTE_JOB, parse_record_key(next_tid()))
    return StrongRef(str(uri), str(record_cid(record)))


def signing_key() -> SigningKey:
    return SigningKey.generate()
