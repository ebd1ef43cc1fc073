"""bench/crypto: cost per operation of the protocol's hot primitives on this machine.

    make bench-crypto        (python -m bench.crypto)

Measures canonicalise+sign of a receipt, full strict verification of a receipt (both
signatures, lexicons, CID bindings), for-charge verification (with the attestation's
signature already memoised, as for a provider's second receipt of the day, and without),
a settlement signature check, and sealing/opening a 4 KB message with each scheme, one
process, one core.
"""

from __future__ import annotations

import os
import platform
from typing import Any

from bench._timing import Measurement, measure, table
from cocore.canonical import canonicalize
from cocore.crypto import (
    EncryptionKeyPair,
    SealScheme,
    SigningKey,
    b64url_decode_strict,
    open_request,
    seal_request,
)
from cocore.signing import receipt_signing_bytes, settlement_signing_bytes, sign_settlement
from cocore.syntax import parse_did
from cocore.verify import (
    ChargeContext,
    StrictOptions,
    verify_for_charge,
    verify_receipt_strict,
    verify_settlement,
)
from cocore.verify.signatures import _attestation_verdict
from tests.conftest import load_vector


def _receipt_ops(s: dict[str, Any]) -> list[Measurement]:
    key = SigningKey.generate()
    receipt, job, att, auth = s["receipt"], s["job"], s["attestation"], s["authorization"]
    options = StrictOptions(expected_provider=parse_did(s["strictOptions"]["expectedProvider"]))
    context = ChargeContext.from_json(s["chargeContext"])
    return [
        measure("canonicalise receipt", lambda: receipt_signing_bytes(receipt)),
        measure(
            "canonicalise + sign receipt (DER)",
            lambda: key.sign_der(receipt_signing_bytes(receipt)),
        ),
        measure(
            "verify receipt, strict", lambda: verify_receipt_strict(receipt, job, att, options)
        ),
        measure(
            "verify receipt, for charge",
            lambda: verify_for_charge(receipt, job, att, auth, context),
        ),
        measure(
            "verify receipt, for charge, new attestation",
            lambda: _cold(receipt, job, att, auth, context),
        ),
    ]


def _cold(*args: Any) -> object:
    """For-charge verification as for a provider's first receipt under a fresh attestation."""
    _attestation_verdict.cache_clear()
    return verify_for_charge(*args)


def _settlement_ops(settlement: dict[str, Any], s: dict[str, Any]) -> list[Measurement]:
    key = SigningKey.generate()
    signed = sign_settlement(settlement, key)
    raw_sig = b64url_decode_strict(signed["sig"])
    public = key.public_key
    return [
        measure(
            "canonicalise + sign settlement (raw r‖s)", lambda: sign_settlement(settlement, key)
        ),
        measure(
            "verify settlement (chain + sig)",
            lambda: verify_settlement(
                signed,
                s["receipt"],
                s["authorization"],
                publisher_did=s["authorization"]["exchange"],
                exchange_key=public,
            ),
        ),
        measure(
            "verify settlement sig only",
            lambda: public.verify_raw(raw_sig, settlement_signing_bytes(signed)),
        ),
    ]


def _seal_ops() -> list[Measurement]:
    plaintext = os.urandom(4096)
    out: list[Measurement] = []
    for scheme in (SealScheme.X25519, SealScheme.P256_ECIES_SE):
        out += _scheme_seal_ops(scheme, plaintext)
    return out


def _scheme_seal_ops(scheme: SealScheme, plaintext: bytes) -> list[Measurement]:
    keys = EncryptionKeyPair.generate(scheme)
    blob, requester_pub, opener = seal_request(scheme, keys.public_key_b64, plaintext)
    _, sealer = open_request(keys, requester_pub, blob)
    reply = sealer.seal_chunk(plaintext)
    return [
        measure(
            f"seal 4 KB request ({scheme})",
            lambda: seal_request(scheme, keys.public_key_b64, plaintext),
        ),
        measure(
            f"open 4 KB request ({scheme})",
            lambda: open_request(keys, requester_pub, blob),
        ),
        measure(f"seal 4 KB reply chunk ({scheme})", lambda: sealer.seal_chunk(plaintext)),
        measure(f"open 4 KB reply chunk ({scheme})", lambda: opener.open_chunk(reply)),
    ]


def main() -> None:
    receipts = load_vector("receipts.json")
    valid = next(s for s in receipts["scenarios"] if s["name"] == "valid-stored")
    settlement = load_vector("settlement.json")["unsignedSettlement"]
    rows = [
        measure("canonicalise 1 KB JSON object", lambda: canonicalize({"k": "x" * 1000})),
        *_receipt_ops(valid),
        *_settlement_ops(settlement, valid),
        *_seal_ops(),
    ]
    print(
        f"bench/crypto on {platform.machine()} {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, one core used\n"
    )
    print(table(rows))


if __name__ == "__main__":
    main()
