"""The exchange's pre-charge gate (crypto.md §9c), with the strict signature checks.

Deliberate differences from the reference `verifyForChargeStrict`:
  * authorization expiry is judged against the receipt's `completedAt` (the work was done
    while the authorization was valid), not against the clock at settlement time; a
    `completedAt` later than now plus the allowed skew is refused (`completed-in-future`);
  * it also checks model equality and the attestation validity window, which the
    reference skips (`model-mismatch`, `attestation-stale`);
  * the attestation must belong to the receipt's own repo (`attestation-owner-mismatch`),
    the authorization to the requester (`auth-owner-mismatch`), and every strongRef must
    carry the CID of the record supplied (`job-cid-mismatch`, `attestation-cid-mismatch`,
    `auth-cid-mismatch`);
  * records are checked against their lexicons (`lexicon-invalid`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cocore.errors import InvalidInput
from cocore.lexicon import ids
from cocore.syntax import AtUri, Did, parse_at_uri, parse_datetime, parse_did

from .binding import (
    check_amounts,
    check_commitment_shapes,
    check_lexicon,
    check_receipt_links,
    check_strong_ref,
)
from .fields import get, get_int, get_str, get_time, uri_repo
from .findings import Findings, Verdict
from .receipt import (
    check_attestation_window,
    check_job_link,
    check_owner,
    check_price_against,
    check_pro_bono,
    check_signatures,
)

SCOPES = ("singleJob", "session")
DEFAULT_SKEW = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class ChargeContext:
    """What the exchange knows when it is asked to charge for a receipt."""

    exchange_did: Did
    receipt_uri: AtUri
    now: datetime
    settled_receipts: Collection[str] = field(default_factory=frozenset)
    job_owner_did: Did | None = None  # default: the repo of receipt.job.uri
    authorization_uri: AtUri | None = None  # default: job.paymentAuthorization.uri
    clock_skew: timedelta = DEFAULT_SKEW

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> ChargeContext:
        """Build from the vectors' `chargeContext` shape; bad fields raise InvalidInput."""
        if not isinstance(obj, Mapping):
            raise InvalidInput("chargeContext must be an object")
        settled = obj.get("settledReceipts", [])
        if not isinstance(settled, list) or not all(isinstance(s, str) for s in settled):
            raise InvalidInput("chargeContext.settledReceipts must be a list of at-uris")
        owner, auth = obj.get("jobOwnerDid"), obj.get("authorizationUri")
        return cls(
            exchange_did=parse_did(obj.get("exchangeDid")),
            receipt_uri=parse_at_uri(obj.get("receiptUri")),
            now=parse_datetime(obj.get("now")).value,
            settled_receipts=frozenset(settled),
            job_owner_did=parse_did(owner) if owner is not None else None,
            authorization_uri=parse_at_uri(auth) if auth is not None else None,
        )


def verify_for_charge(
    receipt: Mapping[str, Any],
    job: Mapping[str, Any],
    attestation: Mapping[str, Any],
    authorization: Mapping[str, Any],
    context: ChargeContext,
) -> Verdict:
    """Everything the exchange must prove before it moves money for this receipt."""
    out = Findings()
    for label, nsid, record in (
        ("receipt", ids.COMPUTE_RECEIPT, receipt),
        ("job", ids.COMPUTE_JOB, job),
        ("attestation", ids.COMPUTE_ATTESTATION, attestation),
        ("authorization", ids.COMPUTE_PAYMENT_AUTHORIZATION, authorization),
    ):
        check_lexicon(out, label, nsid, record)
    _context_checks(out, receipt, job, authorization, context)
    check_amounts(out, receipt)
    if get_str(authorization, "scope") not in SCOPES:
        out.error("unknown-scope", f"authorization scope must be one of {', '.join(SCOPES)}")
    check_commitment_shapes(out, receipt)
    check_job_link(out, receipt, job, model=True)
    check_price_against(
        out, receipt, job.get("priceCeiling"), "currency-mismatch", "price-over-job-ceiling"
    )
    check_price_against(
        out,
        receipt,
        authorization.get("ceiling"),
        "currency-mismatch-auth",
        "price-over-auth-ceiling",
    )
    tokens_out, max_out = get_int(receipt, "tokens", "out"), get_int(job, "maxTokensOut")
    if tokens_out is not None and max_out is not None and tokens_out > max_out:
        out.error(
            "tokens-over-job-ceiling", f"tokens.out {tokens_out} exceeds job.maxTokensOut {max_out}"
        )
    check_pro_bono(out, receipt)
    _exchange_and_time_checks(out, receipt, job, context)
    check_attestation_window(out, receipt, attestation)
    if not get_str(receipt, "enclaveSignature"):
        out.error("no-signature", "enclaveSignature is missing or empty")
    check_signatures(out, receipt, attestation)
    check_owner(out, receipt, context.receipt_uri.repo, context.receipt_uri)
    _cid_bindings(out, receipt, job, attestation, authorization)
    return out.verdict()


def _context_checks(
    out: Findings,
    receipt: Mapping[str, Any],
    job: Mapping[str, Any],
    authorization: Mapping[str, Any],
    context: ChargeContext,
) -> None:
    if context.receipt_uri in context.settled_receipts:
        out.error("already-settled", f"{context.receipt_uri} has already been settled")
    owner = context.job_owner_did or uri_repo(receipt, "job", "uri")
    requester = receipt.get("requester")
    if requester != owner:
        out.error("job-owner-mismatch", f"receipt.requester {requester} does not own the job")
    if authorization.get("exchange") != context.exchange_did:
        out.error("wrong-exchange", f"the authorization names {authorization.get('exchange')}")
    auth_uri = get_str(job, "paymentAuthorization", "uri")
    if context.authorization_uri is not None and auth_uri != context.authorization_uri:
        out.error("auth-job-link", "job.paymentAuthorization does not point at this authorization")
    if uri_repo(job, "paymentAuthorization", "uri") != requester:
        out.error("auth-owner-mismatch", "the authorization is not in the requester's repo")
    completed, auth_expires = get_time(receipt, "completedAt"), get_time(authorization, "expiresAt")
    if completed is None or auth_expires is None or completed > auth_expires:
        out.error("auth-expired", "the job completed after the authorization expired")


def _exchange_and_time_checks(
    out: Findings, receipt: Mapping[str, Any], job: Mapping[str, Any], context: ChargeContext
) -> None:
    accepted = job.get("acceptedExchanges")
    if isinstance(accepted, list) and context.exchange_did not in accepted:
        out.error(
            "exchange-not-allowed", f"the job does not accept exchange {context.exchange_did}"
        )
    completed, job_expires = get_time(receipt, "completedAt"), get_time(job, "expiresAt")
    if completed and job_expires and completed > job_expires:
        out.error("job-completed-after-expiry", "receipt completedAt is after job.expiresAt")
    if completed and completed > context.now + context.clock_skew:
        out.error("completed-in-future", "receipt completedAt is later than the exchange's clock")


def _cid_bindings(
    out: Findings,
    receipt: Mapping[str, Any],
    job: Mapping[str, Any],
    attestation: Mapping[str, Any],
    authorization: Mapping[str, Any],
) -> None:
    check_receipt_links(out, receipt, job, attestation)
    check_strong_ref(
        out,
        "auth-cid-mismatch",
        label="authorization",
        ref=get(job, "paymentAuthorization"),
        nsid=ids.COMPUTE_PAYMENT_AUTHORIZATION,
        record=authorization,
    )
