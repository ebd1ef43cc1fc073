"""settlement.json: chain checks as the reference does them, plus the sig check it lacks."""

from __future__ import annotations

from typing import Any

import pytest

from cocore.crypto import PublicKey, SigningKey
from cocore.signing import sign_settlement
from cocore.syntax import record_cid
from cocore.verify import verify_settlement
from tests.conftest import load_vector

SETTLEMENT = load_vector("settlement.json")
RECEIPTS = load_vector("receipts.json")
VALID = next(s for s in RECEIPTS["scenarios"] if s["name"] == "valid-stored")
EXCHANGE_KEY = PublicKey.from_jwk(SETTLEMENT["exchangeKey"]["publicJwk"])


def _verify(settlement: dict[str, Any], publisher: str) -> list[str]:
    return verify_settlement(
        settlement,
        VALID["receipt"],
        VALID["authorization"],
        publisher_did=publisher,
        exchange_key=EXCHANGE_KEY,
    ).codes


@pytest.mark.parametrize("case", SETTLEMENT["cases"], ids=lambda c: c["name"])
def test_case(case: dict[str, Any]) -> None:
    expected = list(case["verifySettlementChain"]["codes"])
    # The reference has no settlement-signature verifier. Cases edited after signing no
    # longer verify, and we say so.
    if not case["sigVerifies"]:
        expected.append("signature-invalid")
    assert _verify(case["settlement"], case["publishedBy"]) == expected


def test_stored_settlement_and_links() -> None:
    assert _verify(SETTLEMENT["stored"], RECEIPTS["dids"]["exchange"]) == []
    assert record_cid(SETTLEMENT["stored"]) == SETTLEMENT["storedCid"]
    assert SETTLEMENT["stored"]["receipt"]["cid"] == record_cid(VALID["receipt"])


def test_reference_random_nonce_signature_verifies() -> None:
    stored = {**SETTLEMENT["stored"], "sig": SETTLEMENT["sigFromReferenceSignRecord"]}
    assert _verify(stored, RECEIPTS["dids"]["exchange"]) == []


def test_missing_signature_and_unknown_key() -> None:
    unsigned = {k: v for k, v in SETTLEMENT["stored"].items() if k != "sig"}
    assert _verify(unsigned, RECEIPTS["dids"]["exchange"]) == ["no-signature"]
    verdict = verify_settlement(
        SETTLEMENT["stored"],
        VALID["receipt"],
        VALID["authorization"],
        publisher_did=RECEIPTS["dids"]["exchange"],
        exchange_key=None,
    )
    assert verdict.ok and verdict.codes == ["signature-unchecked"]


def test_our_signature_round_trips_and_binds_links() -> None:
    key = SigningKey.from_private_jwk(SETTLEMENT["exchangeKey"]["privateJwk"])
    body = {k: v for k, v in SETTLEMENT["stored"].items() if k != "sig"}
    signed = sign_settlement(body, key)
    assert _verify(signed, RECEIPTS["dids"]["exchange"]) == []
    other_receipt = {**body, "receipt": {**body["receipt"], "cid": SETTLEMENT["storedCid"]}}
    assert _verify(sign_settlement(other_receipt, key), RECEIPTS["dids"]["exchange"]) == [
        "receipt-link-mismatch"
    ]
    forged = sign_settlement(body, SigningKey.generate())
    assert _verify(forged, RECEIPTS["dids"]["exchange"]) == ["signature-invalid"]
    garbled = {**signed, "sig": "not base64url!"}
    assert _verify(garbled, RECEIPTS["dids"]["exchange"]) == ["signature-verify-error"]
