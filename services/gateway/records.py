"""The requester's job and paymentAuthorization, built locally: rkeys chosen, CIDs computed.

Their strongRefs are known before any PDS answers, so they go into the dispatch at once and
the PDS write happens later from the outbox (§6 item 17).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cocore.lexicon import ids
from cocore.syntax import Did, Nsid, TidClock, format_datetime, make_at_uri, parse_record_key
from cocore.syntax import record_cid as _cid

from .inference import InferenceRequest
from .policy import Policy

MAX_ACCEPTED_PROVIDERS = 64  # the job lexicon's bound


@dataclass(frozen=True, slots=True)
class Placed:
    collection: Nsid
    rkey: str
    uri: str
    cid: str
    record: dict[str, Any]

    @property
    def ref(self) -> dict[str, str]:
        return {"uri": self.uri, "cid": self.cid}


@dataclass(frozen=True, slots=True)
class JobRecords:
    authorization: Placed
    job: Placed
    ceiling: int

    @property
    def key(self) -> str:
        """One job, one idempotency key (the job's rkey) for the hold and the outbox group."""
        return self.job.rkey


def place(repo: Did, collection: Nsid, rkey: str, body: dict[str, Any]) -> Placed:
    record = {"$type": str(collection), **body}
    uri = make_at_uri(repo, collection, parse_record_key(rkey))
    return Placed(collection, rkey, str(uri), str(_cid(record)), record)


def build(
    requester: Did,
    req: InferenceRequest,
    policy: Policy,
    *,
    ceiling: int,
    input_commitment: str,
    accepted_providers: list[str],
    now: datetime,
    ttl_s: int,
    tids: TidClock,
    nonce: Callable[[], str],
) -> JobRecords:
    created, expires = _ts(now), _ts(now + timedelta(seconds=ttl_s))
    money = {"amount": ceiling, "currency": policy.currency}
    authorization = place(requester, ids.COMPUTE_PAYMENT_AUTHORIZATION, str(tids.next()), {
        "exchange": str(policy.exchange), "ceiling": money, "scope": "singleJob",
        "nonce": nonce(), "expiresAt": expires, "createdAt": created,
    })  # fmt: skip
    body: dict[str, Any] = {
        "model": req.model, "inputCommitment": input_commitment, "inputFormat": req.input_format,
        "maxTokensOut": req.sampling.max_tokens, "priceCeiling": money,
        "acceptedTrustLevel": req.routing.min_trust or "self-attested",
        "acceptedExchanges": [str(policy.exchange)],
        "paymentAuthorization": authorization.ref, "nonce": nonce(),
        "expiresAt": expires, "createdAt": created,
    }  # fmt: skip
    if accepted_providers and len(accepted_providers) <= MAX_ACCEPTED_PROVIDERS:
        body["acceptedProviders"] = sorted(accepted_providers)
    if req.output_schema is not None:
        body["outputSchema"] = req.output_schema
    if req.tools:
        body["tools"] = req.tools
        body["toolChoice"] = req.tool_choice or "auto"
        if req.tool_choice_function:
            body["toolChoiceFunction"] = req.tool_choice_function
    job = place(requester, ids.COMPUTE_JOB, str(tids.next()), body)
    return JobRecords(authorization, job, ceiling)


def _ts(moment: datetime) -> str:
    return str(format_datetime(moment))
