"""Checks shared by the verifiers: lexicon shape, strongRef CIDs, amounts and commitments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cocore.lexicon import default_registry, ids
from cocore.syntax import InvalidSyntaxError, record_cid

from .fields import get, get_str, is_count, is_hex64
from .findings import Findings

_MAX_LEXICON_FINDINGS = 5


def check_lexicon(out: Findings, label: str, nsid: str, record: object) -> None:
    """`lexicon-invalid` per problem (a few at most), each naming the record and the path."""
    issues = default_registry().validate_record(nsid, record)
    for issue in issues[:_MAX_LEXICON_FINDINGS]:
        out.error("lexicon-invalid", f"{label}: {issue.path}: {issue.message}")


def stored_cid(nsid: str, record: Mapping[str, Any]) -> str | None:
    """The CID the record has on its PDS (which adds `$type` when a writer omits it)."""
    try:
        return record_cid(record if "$type" in record else {**record, "$type": nsid})
    except InvalidSyntaxError:
        return None


def check_strong_ref(
    out: Findings, code: str, *, label: str, ref: object, nsid: str, record: Mapping[str, Any]
) -> None:
    """A strongRef must name exactly the record supplied alongside it."""
    expected = get_str(ref, "cid")
    actual = stored_cid(nsid, record)
    if expected is None or actual != expected:
        out.error(code, f"{label} strongRef cid {expected} does not match the record ({actual})")


def check_receipt_links(
    out: Findings,
    receipt: Mapping[str, Any],
    job: Mapping[str, Any],
    attestation: Mapping[str, Any],
) -> None:
    """The receipt's job and attestation strongRefs must name the records supplied."""
    check_strong_ref(
        out,
        "job-cid-mismatch",
        label="job",
        ref=receipt.get("job"),
        nsid=ids.COMPUTE_JOB,
        record=job,
    )
    check_strong_ref(
        out,
        "attestation-cid-mismatch",
        label="attestation",
        ref=receipt.get("attestation"),
        nsid=ids.COMPUTE_ATTESTATION,
        record=attestation,
    )


def check_amounts(out: Findings, receipt: Mapping[str, Any]) -> None:
    for path in (("price", "amount"), ("tokens", "in"), ("tokens", "out")):
        if not is_count(get(receipt, *path)):
            out.error("non-negative-integer", f"receipt.{'.'.join(path)} must be an integer ≥ 0")


def check_commitment_shapes(out: Findings, receipt: Mapping[str, Any]) -> None:
    if not is_hex64(receipt.get("inputCommitment")):
        out.error("input-commitment-shape", "inputCommitment must be 64 lowercase hex characters")
    for field in ("outputCommitment", "outputCipherCommitment", "reasoningCommitment"):
        required = field == "outputCommitment"
        if (required or field in receipt) and not is_hex64(receipt.get(field)):
            out.error("output-commitment-shape", f"{field} must be 64 lowercase hex characters")
