"""Offline verification of cocore records: receipts (structural, strict, for-charge),
settlements (chain and signature) and brokerage countersignatures, as findings.

Every verifier returns a `Verdict` of `Finding(severity, code, message)` using the
reference implementation's finding codes, and never raises on malformed records.
"""

from .brokerage import (
    BrokerageResult,
    verify_brokerage_countersignature,
    verify_confidential_receipt,
    witness_message,
)
from .charge import ChargeContext, verify_for_charge
from .findings import Finding, Severity, Verdict
from .receipt import StrictOptions, verify_receipt, verify_receipt_strict
from .settlement import verify_settlement
from .signatures import SignatureResult, check_attestation_signature, check_receipt_signature

__all__ = [
    "BrokerageResult",
    "ChargeContext",
    "Finding",
    "Severity",
    "SignatureResult",
    "StrictOptions",
    "Verdict",
    "check_attestation_signature",
    "check_receipt_signature",
    "verify_brokerage_countersignature",
    "verify_confidential_receipt",
    "verify_for_charge",
    "verify_receipt",
    "verify_receipt_strict",
    "verify_settlement",
    "witness_message",
]
