"""Brokerage countersignatures (ADR-0004): a matchmaking authority's witness on a receipt."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from cocore.canonical import CanonicalError, canonicalize
from cocore.crypto import CryptoError, PublicKey, b64decode_strict

from .fields import get, get_str
from .signatures import check_receipt_signature

KeyResolver = Callable[[str], PublicKey | None]


@dataclass(frozen=True, slots=True)
class BrokerageResult:
    ok: bool
    authority: str | None = None
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.ok}
        if self.authority is not None:
            out["authority"] = self.authority
        if self.reason is not None:
            out["reason"] = self.reason
        return out


def witness_message(receipt: Mapping[str, Any]) -> dict[str, Any]:
    """What the brokerage signs: bound to this job, requester, machine and attestation."""
    witness = receipt.get("brokerageCountersignature")
    return {
        "attestation": get(receipt, "attestation", "uri"),
        "authority": get(witness, "authority"),
        "jobCid": get(receipt, "job", "cid"),
        "jobUri": get(receipt, "job", "uri"),
        "machineId": get(witness, "machineId"),
        "nonce": get(witness, "nonce"),
        "requester": get(receipt, "requester"),
    }


def verify_brokerage_countersignature(
    receipt: Mapping[str, Any], trusted: Collection[str], resolve_key: KeyResolver
) -> BrokerageResult:
    """Check the witness in the reference's order; never raises."""
    witness = receipt.get("brokerageCountersignature")
    if not isinstance(witness, Mapping):
        return BrokerageResult(False, reason="no brokerage countersignature on the receipt")
    authority = get_str(witness, "authority")
    if authority is None or authority not in trusted:
        return BrokerageResult(False, authority, f"authority {authority} is not in the trust set")
    message = witness_message(receipt)
    missing = [k for k, v in {**message, "sig": witness.get("sig")}.items() if not v]
    if missing:
        return BrokerageResult(False, authority, f"countersignature lacks {', '.join(missing)}")
    key = resolve_key(authority)
    if key is None:
        return BrokerageResult(False, authority, f"cannot resolve the key of {authority}")
    try:
        signature = b64decode_strict(str(witness["sig"]))
        valid = key.verify_der(signature, canonicalize(message))
    except (CryptoError, CanonicalError):
        valid = False
    if not valid:
        return BrokerageResult(False, authority, "countersignature did not verify")
    return BrokerageResult(True, authority)


def verify_confidential_receipt(
    receipt: Mapping[str, Any],
    attestation: Mapping[str, Any],
    trusted: Collection[str],
    resolve_key: KeyResolver,
) -> BrokerageResult:
    """The provider's signature first, then a trusted brokerage's witness."""
    if not check_receipt_signature(receipt, attestation).valid:
        return BrokerageResult(False, reason="provider enclaveSignature did not verify")
    return verify_brokerage_countersignature(receipt, trusted, resolve_key)
