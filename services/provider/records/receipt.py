"""The `compute.receipt` record: every required field, every commitment, signed, with a local
rkey (TID) and CID so its strongRef is known before the PDS ever sees it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cocore.canonical import CanonicalError
from cocore.crypto import SigningKey, schema_hash
from cocore.lexicon import ids
from cocore.signing import sign_receipt
from cocore.syntax import (
    Did,
    Tid,
    format_datetime,
    make_at_uri,
    next_tid,
    parse_record_key,
    record_cid,
)

from ..errors import AttestationUnusable
from ..link import JobFailure, JobRequest, StrongRef
from .attestation import Attestation
from .pricing import TokenRate


@dataclass(frozen=True, slots=True)
class ServedJob:
    """What was served, measured by the runner (commitments over the exact bytes)."""

    job: StrongRef
    requester: str
    model: str
    input_commitment: str
    output_commitment: str
    output_cipher_commitment: str
    reasoning_commitment: str | None
    params: dict[str, Any]
    tokens_in: int
    tokens_out: int
    started_at: datetime
    completed_at: datetime
    pro_bono: bool = False


@dataclass(frozen=True, slots=True)
class SignedReceipt:
    rkey: Tid
    cid: str
    uri: str
    record: dict[str, Any]

    @property
    def ref(self) -> StrongRef:
        return StrongRef(self.uri, self.cid)


def generation_params(job: JobRequest) -> dict[str, Any]:
    """`params` in integer milliunits, with the schema hashes; a schema that cannot be
    canonicalised is refused (never silently dropped, unlike the reference)."""
    params: dict[str, Any] = {"maxTokens": job.max_tokens}
    if job.temperature_milli is not None:
        params["temperatureMilli"] = job.temperature_milli
    if job.top_p_milli is not None:
        params["topPMilli"] = job.top_p_milli
    if job.seed is not None:
        params["seed"] = job.seed
    try:
        if job.output_schema is not None:
            params["outputSchemaHash"] = schema_hash(job.output_schema)
        if job.tools:
            params["toolSchemaHash"] = schema_hash(job.tools)
    except CanonicalError:
        raise JobFailure(
            "invalid_request", "the output schema or tools are not canonical JSON (no floats)"
        ) from None
    return params


def build_receipt(
    served: ServedJob,
    rate: TokenRate,
    attestation: Attestation,
    provider: Did,
    key: SigningKey,
    *,
    rkey: Tid | None = None,
) -> SignedReceipt:
    """Sign the receipt; refuses an attestation whose window does not hold `completedAt`."""
    if not attestation.valid_at(served.completed_at):
        raise AttestationUnusable("no attestation covers this job's completion time")
    tokens_in, tokens_out = (0, 0) if served.pro_bono else (served.tokens_in, served.tokens_out)
    record: dict[str, Any] = {
        "$type": ids.COMPUTE_RECEIPT,
        "job": {"uri": served.job.uri, "cid": served.job.cid},
        "requester": served.requester,
        "model": served.model,
        "inputCommitment": served.input_commitment,
        "outputCommitment": served.output_commitment,
        "outputCipherCommitment": served.output_cipher_commitment,
        "params": served.params,
        "tokens": {"in": tokens_in, "out": tokens_out},
        "startedAt": str(format_datetime(served.started_at)),
        "completedAt": str(format_datetime(served.completed_at)),
        "price": {"amount": rate.price(tokens_in, tokens_out), "currency": rate.currency},
        "attestation": {"uri": attestation.ref.uri, "cid": attestation.ref.cid},
    }
    if served.reasoning_commitment is not None:
        record["reasoningCommitment"] = served.reasoning_commitment
    if served.pro_bono:
        record["proBono"] = True
    signed = sign_receipt(record, key)
    tid = rkey or next_tid()
    uri = make_at_uri(provider, ids.COMPUTE_RECEIPT, parse_record_key(tid))
    return SignedReceipt(tid, str(record_cid(signed)), str(uri), signed)
