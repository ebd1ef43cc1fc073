"""Link messages ↔ runner types: a JobRequest in, JobComplete / JobFailed frames out."""

from __future__ import annotations

from typing import Any

from cocore.canonical import CanonicalError, loads_strict
from cocore.crypto import CryptoError, parse_seal_scheme
from cocore.proto.common.v1 import common_pb2
from cocore.proto.matchmaker.v1 import matchmaker_pb2 as pb

from .types import JobFailure, JobRequest, JobResult, Money, StrongRef


def job_request(msg: pb.JobRequest) -> JobRequest:
    """The runner's view of a job; JobFailure("invalid_request") when it is malformed."""
    spec = msg.spec
    sampling = spec.sampling
    try:
        scheme = parse_seal_scheme(msg.enc_scheme or None)
    except CryptoError:
        raise JobFailure("invalid_request", "unknown encryption scheme") from None
    return JobRequest(
        job_id=msg.job_id,
        requester_did=spec.requester_did,
        model=spec.model,
        sealed_input=msg.sealed_input,
        requester_pub_key=msg.requester_pub_key,
        enc_scheme=scheme,
        input_format=spec.input_format or "text",
        max_tokens=sampling.max_tokens,
        temperature_milli=(
            sampling.temperature_milli if sampling.HasField("temperature_milli") else None
        ),
        top_p_milli=sampling.top_p_milli if sampling.HasField("top_p_milli") else None,
        seed=sampling.seed if sampling.HasField("seed") else None,
        stop=tuple(spec.stop),
        tools=_json(spec.tools_json, "tools", list),
        tool_choice=spec.tool_choice,
        tool_choice_function=spec.tool_choice_function,
        output_schema=_json(spec.output_schema_json, "output_schema", dict),
        job=_ref(spec.job),
        authorization=_ref(spec.authorization),
        price_ceiling=(
            Money(spec.price_ceiling.amount, spec.price_ceiling.currency)
            if spec.HasField("price_ceiling")
            else None
        ),
        pro_bono=spec.pro_bono,
    )


def complete_frame(job_id: str, result: JobResult, final_seq: int) -> pb.ProviderFrame:
    usage = pb.Usage(
        tokens_in=result.tokens_in, tokens_out=result.tokens_out,
        reasoning_tokens=result.reasoning_tokens,
    )  # fmt: skip
    commitments = pb.OutputCommitments(
        output=result.output_commitment, reasoning=result.reasoning_commitment,
        output_cipher=result.output_cipher_commitment,
    )  # fmt: skip
    receipt = (
        common_pb2.StrongRef(uri=result.receipt.uri, cid=result.receipt.cid)
        if result.receipt
        else None
    )
    complete = pb.JobComplete(
        job_id=job_id, final_seq=final_seq, usage=usage, finish_reason=result.finish_reason,
        receipt=receipt, commitments=commitments,
    )  # fmt: skip
    return pb.ProviderFrame(complete=complete)


def failed_frame(job_id: str, code: str, message: str) -> pb.ProviderFrame:
    return pb.ProviderFrame(failed=pb.JobFailed(job_id=job_id, code=code, message=message[:200]))


def _ref(ref: common_pb2.StrongRef) -> StrongRef | None:
    return StrongRef(ref.uri, ref.cid) if ref.uri else None


def _json(raw: bytes, name: str, kind: type) -> Any:
    if not raw:
        return None
    try:
        value = loads_strict(raw.decode("utf-8"))
    except (CanonicalError, UnicodeDecodeError):
        raise JobFailure("invalid_request", f"{name} is not valid JSON") from None
    if not isinstance(value, kind):
        raise JobFailure("invalid_request", f"{name} has the wrong shape")
    return value
