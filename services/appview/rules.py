"""Who may publish what: each record must sit in the repo of the party it speaks for.

receipt, provider and attestation live in the provider's repo; job and paymentAuthorization
in the requester's; settlement, exchangePolicy, exchangeAttestation, dispute, tokenGrant and
tokenPatronage in an exchange's repo, and those that carry an `exchange` field name it.
Each function returns why a record breaks the rules, or None.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from cocore.lexicon import ids
from cocore.syntax import Nsid

Record = Mapping[str, Any]
Rule = Callable[[str, Record], str | None]

EXCHANGE_COLLECTIONS = frozenset(
    {
        ids.COMPUTE_SETTLEMENT,
        ids.COMPUTE_EXCHANGE_POLICY,
        ids.COMPUTE_EXCHANGE_ATTESTATION,
        ids.COMPUTE_DISPUTE,
        ids.ACCOUNT_TOKEN_GRANT,
        ids.ACCOUNT_TOKEN_PATRONAGE,
    }
)


def _ref(record: Record, field: str) -> tuple[str, str] | None:
    """(repo, collection) of the record a strongRef names. The lexicon has already checked
    the URI's syntax, so a split is enough here (this runs for every record on the firehose;
    its objects are dicts, so `isinstance(…, dict)`, not the slower ABC test for Mapping)."""
    ref = record.get(field)
    uri = ref.get("uri") if isinstance(ref, dict) else None
    if not isinstance(uri, str) or not uri.startswith("at://"):
        return None
    parts = uri[5:].split("/")
    return (parts[0], parts[1]) if len(parts) == 3 else None


def _ref_problem(
    record: Record, field: str, nsid: Nsid, *, repo: str | None, required: bool = True
) -> str | None:
    """A strongRef must point at a record of `nsid` (in `repo`, when given)."""
    if field not in record and not required:
        return None
    ref = _ref(record, field)
    if ref is None:
        return f"{field} is not a record URI"
    in_repo, collection = ref
    if collection != nsid:
        return f"{field} points at a {collection}, not a {nsid}"
    if repo is not None and in_repo != repo:
        return f"{field} is in {in_repo}, not in this repo {repo}"
    return None


def _first(*problems: str | None) -> str | None:
    return next((p for p in problems if p is not None), None)


def _receipt(repo: str, r: Record) -> str | None:
    if r.get("provider", repo) != repo:
        return "receipt.provider is not this repo"
    problem = _ref_problem(r, "attestation", ids.COMPUTE_ATTESTATION, repo=repo)
    if problem is not None:
        return problem
    job = _ref(r, "job")  # read once: receipts are most of the firehose
    if job is None:
        return "job is not a record URI"
    if job[1] != ids.COMPUTE_JOB:
        return f"job points at a {job[1]}, not a {ids.COMPUTE_JOB}"
    if job[0] != r.get("requester"):
        return "receipt.requester is not the repo holding the job"
    return None


def _job(repo: str, r: Record) -> str | None:
    return _ref_problem(r, "paymentAuthorization", ids.COMPUTE_PAYMENT_AUTHORIZATION, repo=repo)


def _names_exchange(repo: str, r: Record) -> str | None:
    if r.get("exchange") != repo:
        return "the record's exchange is not the repo publishing it"
    return None


def _settlement(repo: str, r: Record) -> str | None:
    auth = ids.COMPUTE_PAYMENT_AUTHORIZATION
    return _first(
        _ref_problem(r, "receipt", ids.COMPUTE_RECEIPT, repo=None),
        _ref_problem(r, "requesterAuthorization", auth, repo=None),
        _ref_problem(r, "policy", ids.COMPUTE_EXCHANGE_POLICY, repo=repo, required=False),
        _ref_problem(
            r, "exchangeAttestation", ids.COMPUTE_EXCHANGE_ATTESTATION, repo=repo, required=False
        ),
        _ref_problem(r, "refundOf", ids.COMPUTE_SETTLEMENT, repo=repo, required=False),
    )


def _policy_ref(repo: str, r: Record) -> str | None:
    return _first(
        _names_exchange(repo, r),
        _ref_problem(r, "policy", ids.COMPUTE_EXCHANGE_POLICY, repo=repo),
    )


def _dispute(repo: str, r: Record) -> str | None:
    return _first(
        _names_exchange(repo, r),
        _ref_problem(r, "settlement", ids.COMPUTE_SETTLEMENT, repo=repo),
    )


def _terms(repo: str, r: Record) -> str | None:
    exchange = r.get("exchange")
    policy_repo = exchange if isinstance(exchange, str) else None
    return _ref_problem(r, "policy", ids.COMPUTE_EXCHANGE_POLICY, repo=policy_repo)


def _no_rule(repo: str, r: Record) -> str | None:
    return None


RULES: dict[str, Rule] = {
    ids.COMPUTE_RECEIPT: _receipt,
    ids.COMPUTE_PROVIDER: _no_rule,  # the repo is the provider; nothing else names it
    ids.COMPUTE_ATTESTATION: _no_rule,
    ids.COMPUTE_JOB: _job,
    ids.COMPUTE_PAYMENT_AUTHORIZATION: _no_rule,
    ids.COMPUTE_SETTLEMENT: _settlement,
    ids.COMPUTE_EXCHANGE_POLICY: _names_exchange,
    ids.COMPUTE_EXCHANGE_ATTESTATION: _policy_ref,
    ids.COMPUTE_DISPUTE: _dispute,
    ids.ACCOUNT_TOKEN_GRANT: _policy_ref,
    ids.ACCOUNT_TOKEN_PATRONAGE: _policy_ref,
    ids.COMPUTE_TERMS_ACCEPTANCE: _terms,
    ids.ACCOUNT_PROFILE: _no_rule,
    ids.ACCOUNT_FRIEND: _no_rule,
}


def ownership_problem(
    collection: str, repo: str, record: Record, exchanges: Collection[str] | None
) -> str | None:
    """Why `record` may not live in `repo`, or None. `exchanges` (when set) lists the DIDs
    allowed to publish exchange records at all."""
    if collection in EXCHANGE_COLLECTIONS and exchanges is not None and repo not in exchanges:
        return f"{repo} is not a configured exchange"
    return RULES[collection](repo, record)
