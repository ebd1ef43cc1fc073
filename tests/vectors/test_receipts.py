"""receipts.json: every scenario through our structural, strict and for-charge verifiers.

Where our verdict differs from the reference TypeScript verifier, OURS gives the codes we
return instead and why. Every other case must match the reference's codes exactly, in order.
"""

from __future__ import annotations

from typing import Any

import pytest

from cocore.crypto import PublicKey
from cocore.syntax import parse_did
from cocore.verify import (
    ChargeContext,
    StrictOptions,
    check_receipt_signature,
    verify_brokerage_countersignature,
    verify_confidential_receipt,
    verify_for_charge,
    verify_receipt,
    verify_receipt_strict,
)
from tests.conftest import load_vector

VECTORS = load_vector("receipts.json")
SCENARIOS = {s["name"]: s for s in VECTORS["scenarios"]}

STALE_ATTESTATION_CID = (
    "the scenario swaps the attestation without re-signing the receipt, so the receipt's "
    "strongRef still names the original attestation; we bind strongRefs to the record's CID"
)
STALE_JOB_CID = "the scenario edits the job after the receipt strongRef'd it; we bind the CID"
STALE_AUTH_CID = "the scenario edits the authorization after the job strongRef'd it"
NEGATIVE = (
    "money.amount has minimum 0 in the lexicon, and we refuse negative amounts at every "
    "level (the reference only does so in verifyForCharge)"
)

# (scenario, level) -> (our codes, why we differ from the reference)
OURS: dict[tuple[str, str], tuple[list[str], str]] = {
    ("attestation-tampered", "strict"): (
        ["attestation-selfsig-invalid", "attestation-cid-mismatch"],
        STALE_ATTESTATION_CID,
    ),
    ("attestation-tampered", "charge"): (
        ["attestation-selfsig-invalid", "attestation-cid-mismatch"],
        STALE_ATTESTATION_CID,
    ),
    ("attestation-unsigned", "structural"): (
        ["lexicon-invalid"],
        "selfSignature is required by the attestation lexicon",
    ),
    ("attestation-unsigned", "strict"): (
        ["lexicon-invalid", "attestation-unsigned", "attestation-cid-mismatch"],
        "lexicon requires selfSignature; " + STALE_ATTESTATION_CID,
    ),
    ("attestation-unsigned", "charge"): (
        ["lexicon-invalid", "attestation-unsigned", "attestation-cid-mismatch"],
        "lexicon requires selfSignature; " + STALE_ATTESTATION_CID,
    ),
    ("attestation-legacy-form", "strict"): (["attestation-cid-mismatch"], STALE_ATTESTATION_CID),
    ("attestation-legacy-form", "charge"): (["attestation-cid-mismatch"], STALE_ATTESTATION_CID),
    ("self-minted-attestation", "strict"): (
        ["attestation-cid-mismatch"],
        "the reference passes a self-minted attestation; it is not the record the receipt names",
    ),
    ("self-minted-attestation", "charge"): (
        ["attestation-cid-mismatch"],
        "the reference passes a self-minted attestation",
    ),
    ("provider-mismatch", "charge"): (
        ["attestation-owner-mismatch"],
        "receipt.provider names another DID than the repo holding the receipt; the reference's "
        "charge gate never checks the owner",
    ),
    ("price-over-auth-ceiling", "strict"): (["job-cid-mismatch"], STALE_JOB_CID),
    ("price-over-auth-ceiling", "charge"): (
        ["price-over-auth-ceiling", "job-cid-mismatch"],
        STALE_JOB_CID,
    ),
    ("outside-attestation-window", "charge"): (
        ["attestation-stale"],
        "the reference's charge gate skips the attestation window",
    ),
    ("negative-price", "structural"): (["lexicon-invalid", "non-negative-integer"], NEGATIVE),
    ("negative-price", "strict"): (["lexicon-invalid", "non-negative-integer"], NEGATIVE),
    ("negative-price", "charge"): (["lexicon-invalid", "non-negative-integer"], NEGATIVE),
    ("charge-wrong-exchange", "charge"): (["wrong-exchange", "auth-cid-mismatch"], STALE_AUTH_CID),
    ("charge-unknown-scope", "charge"): (["unknown-scope", "auth-cid-mismatch"], STALE_AUTH_CID),
    ("charge-auth-expired", "charge"): (
        [],
        "authorization expiry is judged against the receipt's completedAt (12:00:03, before "
        "expiresAt 13:00), not the clock at settlement time",
    ),
    ("appattest-assertion-receipt", "strict"): (
        ["attestation-cid-mismatch"],
        STALE_ATTESTATION_CID,
    ),
    ("appattest-assertion-receipt", "charge"): (
        ["attestation-cid-mismatch"],
        STALE_ATTESTATION_CID,
    ),
}

REFERENCE_NAME = {
    "structural": "verifyReceipt",
    "strict": "verifyReceiptStrict",
    "charge": "verifyForChargeStrict",
}


def _run(level: str, s: dict[str, Any]) -> list[str]:
    receipt, job, attestation = s["receipt"], s["job"], s["attestation"]
    if level == "structural":
        return verify_receipt(receipt, job, attestation).codes
    if level == "strict":
        opts = s["strictOptions"]
        expected = opts.get("expectedProvider")
        options = StrictOptions(
            expected_provider=parse_did(expected) if expected else None,
            allow_unbound_attestation=bool(opts.get("allowUnboundAttestation")),
        )
        return verify_receipt_strict(receipt, job, attestation, options).codes
    context = ChargeContext.from_json(s["chargeContext"])
    return verify_for_charge(receipt, job, attestation, s["authorization"], context).codes


CASES = [(name, level) for name in SCENARIOS for level in REFERENCE_NAME]


@pytest.mark.parametrize(("name", "level"), CASES, ids=[f"{n}-{lv}" for n, lv in CASES])
def test_scenario(name: str, level: str) -> None:
    scenario = SCENARIOS[name]
    reference = scenario["reference"][REFERENCE_NAME[level]]
    expected, _why = OURS.get((name, level), (reference["codes"], "agrees with the reference"))
    assert _run(level, scenario) == expected


def test_differences_are_real_differences() -> None:
    """Each entry in OURS must actually differ from the reference, or it should not exist."""
    for (name, level), (codes, why) in OURS.items():
        assert why
        assert codes != SCENARIOS[name]["reference"][REFERENCE_NAME[level]]["codes"], (name, level)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_receipt_signature(name: str) -> None:
    scenario = SCENARIOS[name]
    result = check_receipt_signature(scenario["receipt"], scenario["attestation"])
    reference = scenario["reference"]["verifyReceiptSignature"]
    if "threw" in reference:  # the reference throws CanonicalError; we report it as an error
        assert result.error is not None and "canonical" in result.error
        assert not result.valid
    else:
        assert result.valid is reference["result"]


def _brokerage_key(did: str) -> PublicKey | None:
    jwk = VECTORS["keys"]["brokerage"]["publicJwk"]
    return PublicKey.from_jwk(jwk) if did == VECTORS["dids"]["brokerage"] else None


@pytest.mark.parametrize("case", VECTORS["brokerage"], ids=lambda c: c["name"])
def test_brokerage(case: dict[str, Any]) -> None:
    trusted = set(case["trustedAuthorities"])
    result = verify_brokerage_countersignature(case["receipt"], trusted, _brokerage_key)
    assert result.to_json() == case["verifyBrokerageCountersignature"]
    attestation = SCENARIOS["valid-stored"]["attestation"]
    confidential = verify_confidential_receipt(
        case["receipt"], attestation, trusted, _brokerage_key
    )
    assert confidential.to_json() == case["verifyConfidentialReceipt"]


def test_findings_have_messages_and_severity() -> None:
    s = SCENARIOS["pro-bono-charging"]
    verdict = verify_receipt(s["receipt"], s["job"], s["attestation"])
    assert not verdict.ok
    for finding in verdict.to_json()["findings"]:
        assert finding["severity"] == "error" and finding["message"] and finding["code"]
