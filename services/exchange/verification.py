"""Everything about a receipt that needs no ledger state: the for-charge verifier, the
exchange's own checks, the fee, and the signed settlement record. Pure, so it can run in a
worker process off the writer's critical path (`verifier_pool.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cocore.crypto import SigningKey
from cocore.lexicon import ids
from cocore.signing import sign_settlement
from cocore.syntax import AtUri, Did, record_cid
from cocore.verify import ChargeContext, Finding, Severity, verify_for_charge
from cocore.verify.fields import get_int, get_str, get_time

from .formulas import price_matches_rate, settlement_fee
from .records import Charge, StrongRef, record_text, settlement_record
from .settlement import Prepared
from .state import PolicyVersion


@dataclass(frozen=True, slots=True)
class Bundle:
    """A receipt with the three records it names, as fetched or supplied."""

    receipt_uri: AtUri
    receipt: dict[str, Any]
    job: dict[str, Any]
    authorization: dict[str, Any]
    attestation: dict[str, Any]
    receipt_cid: str | None = None  # what the source claims; checked against the record
    hold_hint: str | None = None


@dataclass(frozen=True, slots=True)
class Pin:
    """The policy and attestation a settlement is computed under, and the exchange's clock."""

    exchange: Did
    policy: PolicyVersion
    attestation: StrongRef
    now: datetime


@dataclass(frozen=True, slots=True)
class Rejected:
    findings: tuple[Finding, ...]

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(f.code for f in self.findings if f.severity is Severity.ERROR)


def prepare(bundle: Bundle, pin: Pin, key: SigningKey) -> Prepared | Rejected:
    """Verify a receipt for charge and, if it passes, sign its settlement."""
    receipt, job, auth = bundle.receipt, bundle.job, bundle.authorization
    context = ChargeContext(exchange_did=pin.exchange, receipt_uri=bundle.receipt_uri, now=pin.now)
    verdict = verify_for_charge(receipt, job, bundle.attestation, auth, context)
    findings = list(verdict.findings)
    cid = str(record_cid(_stored(receipt)))
    if bundle.receipt_cid is not None and bundle.receipt_cid != cid:
        findings.append(_error("receipt-cid-mismatch", f"the receipt's CID is {cid}"))
    findings += _exchange_checks(receipt, pin)
    if any(f.severity is Severity.ERROR for f in findings):
        return Rejected(tuple(findings))
    return _prepared(bundle, pin, key, cid)


def _exchange_checks(receipt: Mapping[str, Any], pin: Pin) -> list[Finding]:
    terms = pin.policy.terms
    currency = get_str(receipt, "price", "currency")
    if currency != terms.currency:
        return [_error("currency-unsupported", f"this exchange settles in {terms.currency}")]
    if receipt.get("proBono") is True:
        return []  # the verifier already requires price 0 and tokens {0, 0}
    amount = get_int(receipt, "price", "amount") or 0
    tokens_in = get_int(receipt, "tokens", "in") or 0
    tokens_out = get_int(receipt, "tokens", "out") or 0
    if not price_matches_rate(amount, tokens_in, tokens_out, terms.token_rate_in_per_mtok,
                              terms.token_rate_out_per_mtok):  # fmt: skip
        return [_error(
            "price-rate-mismatch",
            f"price {amount} is not tokenRate × tokens ({tokens_in} in, {tokens_out} out) "
            "within one minor unit",
        )]  # fmt: skip
    return []


def _prepared(bundle: Bundle, pin: Pin, key: SigningKey, cid: str) -> Prepared:
    receipt, job, auth = bundle.receipt, bundle.job, bundle.authorization
    requester = str(receipt["requester"])
    provider = str(bundle.receipt_uri.repo)
    amount = int(receipt["price"]["amount"])
    pro_bono = receipt.get("proBono") is True
    fee = settlement_fee(amount, pin.policy.terms.fee_rule, self_loop=requester == provider,
                         pro_bono=pro_bono)  # fmt: skip
    auth_ref = StrongRef.from_json(job["paymentAuthorization"])
    scope = str(auth["scope"])
    budget = get_int(auth, "sessionBudget", "amount") if scope == "session" else None
    receipt_ref = StrongRef(str(bundle.receipt_uri), cid)
    record = settlement_record(
        receipt=receipt_ref, authorization=auth_ref,
        charge=Charge(amount, fee, pin.policy.terms.currency),
        transfer_id=f"capture:{receipt_ref.uri}", policy=pin.policy.ref,
        attestation=pin.attestation, settled_at=pin.now,
    )  # fmt: skip
    signed = sign_settlement(record, key)
    completed = get_time(receipt, "completedAt")
    assert completed is not None  # verify_for_charge refused receipts without one
    return Prepared(
        receipt=receipt_ref, requester=requester, provider=provider,
        job_uri=str(receipt["job"]["uri"]), completed_at=completed, amount=amount, fee=fee,
        currency=pin.policy.terms.currency, pro_bono=pro_bono, auth=auth_ref,
        auth_key=f"{requester} {auth['nonce']}", auth_scope=scope,
        auth_budget=budget if budget is not None else int(auth["ceiling"]["amount"]),
        policy_uri=pin.policy.ref.uri, record=record_text(signed), cid=str(record_cid(signed)),
        hold_hint=bundle.hold_hint,
    )  # fmt: skip


def _stored(record: Mapping[str, Any]) -> dict[str, Any]:
    return dict(record) if "$type" in record else {**record, "$type": ids.COMPUTE_RECEIPT}


def _error(code: str, message: str) -> Finding:
    return Finding(Severity.ERROR, code, message)
