"""What each cocore signature covers, and the signers that produce them (crypto.md §4).

One table, used by both producers and verifiers, so the two can never disagree:

| record                  | field            | stripped before canonicalising | form       |
|-------------------------|------------------|--------------------------------|------------|
| compute.receipt         | enclaveSignature | it, $type, brokerage witness   | DER b64    |
| compute.attestation     | selfSignature    | it, $type                      | DER b64    |
| compute.settlement      | sig              | it, $type                      | r‖s b64url |
| dispute, termsAcceptance| sig              | it only ($type stays signed)   | r‖s b64url |
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cocore.canonical import canonicalize
from cocore.crypto import SigningKey, b64encode, b64url_encode

RECEIPT_UNSIGNED_FIELDS = ("enclaveSignature", "$type", "brokerageCountersignature")
ATTESTATION_UNSIGNED_FIELDS = ("selfSignature", "$type")
SETTLEMENT_UNSIGNED_FIELDS = ("sig", "$type")
EXCHANGE_RECORD_UNSIGNED_FIELDS = ("sig",)


def _without(record: Mapping[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in fields}


def receipt_signing_bytes(receipt: Mapping[str, Any]) -> bytes:
    """Canonical bytes the provider signs: everything but the signature, $type and witness."""
    return canonicalize(_without(receipt, RECEIPT_UNSIGNED_FIELDS))


def attestation_signing_bytes(attestation: Mapping[str, Any]) -> bytes:
    return canonicalize(_without(attestation, ATTESTATION_UNSIGNED_FIELDS))


def settlement_signing_bytes(settlement: Mapping[str, Any]) -> bytes:
    """The exchange signs a settlement before it has $type, so verifiers strip both."""
    return canonicalize(_without(settlement, SETTLEMENT_UNSIGNED_FIELDS))


def exchange_record_signing_bytes(record: Mapping[str, Any]) -> bytes:
    """Disputes and terms acceptances are signed with $type present (unlike settlements)."""
    return canonicalize(_without(record, EXCHANGE_RECORD_UNSIGNED_FIELDS))


def challenge_response_signing_bytes(
    nonce: str,
    timestamp: str,
    *,
    sip_enabled: bool | None = None,
    hypervisor_present: bool | None = None,
) -> bytes:
    """What a provider signs (DER) to answer a matchmaker challenge with its attestation key.

    `{nonce, timestamp}` plus `sipEnabled` / `hypervisorPresent` only when the machine actually
    measured them (the reference hardcodes `sipEnabled: true`; an absent value claims nothing).
    """
    body: dict[str, Any] = {"nonce": nonce, "timestamp": timestamp}
    if sip_enabled is not None:
        body["sipEnabled"] = sip_enabled
    if hypervisor_present is not None:
        body["hypervisorPresent"] = hypervisor_present
    return canonicalize(body)


def sign_receipt(receipt: Mapping[str, Any], key: SigningKey) -> dict[str, Any]:
    """Return the receipt with `enclaveSignature` (DER, base64) set."""
    body = _without(receipt, ("enclaveSignature",))
    return {**body, "enclaveSignature": b64encode(key.sign_der(receipt_signing_bytes(body)))}


def sign_attestation(attestation: Mapping[str, Any], key: SigningKey) -> dict[str, Any]:
    """Return the attestation with `selfSignature` (DER, base64) set."""
    body = _without(attestation, ("selfSignature",))
    signature = key.sign_der(attestation_signing_bytes(body))
    return {**body, "selfSignature": b64encode(signature)}


def sign_settlement(settlement: Mapping[str, Any], key: SigningKey) -> dict[str, Any]:
    """Return the settlement with `sig` (raw r‖s, base64url) set."""
    body = _without(settlement, ("sig",))
    return {**body, "sig": b64url_encode(key.sign_raw(settlement_signing_bytes(body)))}


def sign_exchange_record(record: Mapping[str, Any], key: SigningKey) -> dict[str, Any]:
    """Return a dispute or terms acceptance with `sig` (raw r‖s, base64url) set."""
    body = _without(record, ("sig",))
    return {**body, "sig": b64url_encode(key.sign_raw(exchange_record_signing_bytes(body)))}
