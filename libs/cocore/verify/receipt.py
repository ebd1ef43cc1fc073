"""Receipt verification at the structural and strict levels (crypto.md §9a-b, made stricter).

Deliberate differences from the reference (each one is also stated in the vector tests):
  * every record is checked against its lexicon first (`lexicon-invalid`);
  * negative prices and token counts are refused at every level (`non-negative-integer`);
  * strict: the attestation must live in the expected provider's repo and, when the
    receipt's own URI is known, in the repo that holds the receipt
    (`attestation-owner-mismatch`; the reference never compares these, so a self-minted
    attestation passes it);
  * strict: each strongRef must carry the CID of the record supplied with it
    (`job-cid-mismatch`, `attestation-cid-mismatch`); the reference trusts any CID.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cocore.canonical import CanonicalError
from cocore.lexicon import ids
from cocore.signing import receipt_signing_bytes
from cocore.syntax import AtUri, Did

from .binding import (
    check_amounts,
    check_commitment_shapes,
    check_lexicon,
    check_receipt_links,
)
from .fields import get, get_int, get_str, get_time, uri_repo
from .findings import Findings, Verdict
from .signatures import check_attestation_signature, check_receipt_signature


@dataclass(frozen=True, slots=True)
class StrictOptions:
    """Who the receipt must belong to. Without either field the owner stays unverified."""

    expected_provider: Did | None = None
    allow_unbound_attestation: bool = False
    receipt_uri: AtUri | None = None  # our addition: binds the attestation to the receipt's repo


def verify_receipt(
    receipt: Mapping[str, Any], job: Mapping[str, Any], attestation: Mapping[str, Any]
) -> Verdict:
    """Structural checks only: shapes, job link, prices, windows. No signatures."""
    out = Findings()
    _structural(out, receipt, job, attestation)
    return out.verdict()


def verify_receipt_strict(
    receipt: Mapping[str, Any],
    job: Mapping[str, Any],
    attestation: Mapping[str, Any],
    options: StrictOptions | None = None,
) -> Verdict:
    """Structural checks plus both signatures, the owner binding and the CID bindings."""
    options = options or StrictOptions()
    out = Findings()
    _structural(out, receipt, job, attestation)
    check_signatures(out, receipt, attestation)
    _owner_binding(out, receipt, options)
    check_receipt_links(out, receipt, job, attestation)
    return out.verdict()


def _structural(
    out: Findings,
    receipt: Mapping[str, Any],
    job: Mapping[str, Any],
    attestation: Mapping[str, Any],
) -> None:
    check_lexicon(out, "receipt", ids.COMPUTE_RECEIPT, receipt)
    check_lexicon(out, "job", ids.COMPUTE_JOB, job)
    check_lexicon(out, "attestation", ids.COMPUTE_ATTESTATION, attestation)
    check_commitment_shapes(out, receipt)
    check_amounts(out, receipt)
    check_job_link(out, receipt, job, model=True)
    check_price_against(
        out, receipt, job.get("priceCeiling"), "currency-mismatch", "price-over-ceiling"
    )
    check_pro_bono(out, receipt)
    completed = get_time(receipt, "completedAt")
    expires = get_time(job, "expiresAt")
    if completed and expires and completed > expires:
        out.error("job-expired", "receipt completedAt is after job.expiresAt")
    check_attestation_window(out, receipt, attestation)
    try:
        receipt_signing_bytes(receipt)
    except CanonicalError as e:
        out.error("canonical-fail", f"receipt cannot be canonicalised: {e}")
    if not get_str(receipt, "enclaveSignature"):
        out.error("no-signature", "enclaveSignature is missing or empty")


def check_job_link(
    out: Findings, receipt: Mapping[str, Any], job: Mapping[str, Any], *, model: bool
) -> None:
    if receipt.get("inputCommitment") != job.get("inputCommitment"):
        out.error("commitment-mismatch", "receipt.inputCommitment differs from job.inputCommitment")
    if model and receipt.get("model") != job.get("model"):
        out.error("model-mismatch", "receipt.model differs from job.model")


def check_price_against(
    out: Findings, receipt: Mapping[str, Any], ceiling: object, currency_code: str, over_code: str
) -> None:
    currency = get_str(receipt, "price", "currency")
    if currency != get_str(ceiling, "currency"):
        out.error(currency_code, f"price currency {currency} differs from the ceiling's")
        return
    amount, limit = get_int(receipt, "price", "amount"), get_int(ceiling, "amount")
    if amount is not None and limit is not None and amount > limit:
        out.error(over_code, f"price {amount} exceeds the ceiling {limit}")


def check_pro_bono(out: Findings, receipt: Mapping[str, Any]) -> None:
    if receipt.get("proBono") is not True:
        return
    if get(receipt, "price", "amount") != 0:
        out.error("pro-bono-nonzero-price", "a pro-bono receipt must carry price.amount 0")
    if get(receipt, "tokens", "in") != 0 or get(receipt, "tokens", "out") != 0:
        out.error("pro-bono-nonzero-tokens", "a pro-bono receipt must carry tokens {in: 0, out: 0}")


def check_attestation_window(
    out: Findings, receipt: Mapping[str, Any], attestation: Mapping[str, Any]
) -> None:
    completed = get_time(receipt, "completedAt")
    start, end = get_time(attestation, "attestedAt"), get_time(attestation, "expiresAt")
    if completed is None or start is None or end is None or not start <= completed <= end:
        out.error("attestation-stale", "completedAt is outside the attestation's validity window")


def check_signatures(
    out: Findings, receipt: Mapping[str, Any], attestation: Mapping[str, Any]
) -> None:
    """The receipt's enclaveSignature, then the attestation's selfSignature (§9b steps 10-11)."""
    if get_str(receipt, "enclaveSignature"):
        result = check_receipt_signature(receipt, attestation)
        if result.error:
            out.error("signature-verify-error", result.error)
        elif not result.valid:
            out.error(
                "signature-invalid", "enclaveSignature does not verify under the attestation key"
            )
    if not get_str(attestation, "selfSignature"):
        out.error("attestation-unsigned", "the attestation carries no selfSignature")
        return
    result = check_attestation_signature(attestation)
    if result.error:
        out.error("attestation-verify-error", result.error)
    elif not result.valid:
        out.error("attestation-selfsig-invalid", "attestation selfSignature does not verify")


def _owner_binding(out: Findings, receipt: Mapping[str, Any], options: StrictOptions) -> None:
    expected = options.expected_provider or (
        options.receipt_uri.repo if options.receipt_uri else None
    )
    if expected is None:
        if not options.allow_unbound_attestation:
            out.error(
                "attestation-owner-unverified", "no expected provider to bind the attestation to"
            )
        return
    check_owner(out, receipt, expected, options.receipt_uri)


def check_owner(
    out: Findings, receipt: Mapping[str, Any], provider: Did, receipt_uri: AtUri | None
) -> None:
    """The receipt, its `provider` field and its attestation must all belong to `provider`."""
    claims = {
        "receipt.provider": receipt.get("provider", provider),
        "the attestation's repo": uri_repo(receipt, "attestation", "uri"),
        "the receipt's repo": receipt_uri.repo if receipt_uri else provider,
    }
    for what, did in claims.items():
        if did != provider:
            out.error(
                "attestation-owner-mismatch", f"{what} ({did}) is not the provider {provider}"
            )
