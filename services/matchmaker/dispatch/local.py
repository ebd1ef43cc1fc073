"""Run one attempt on a machine whose stream this replica holds; account for how it ended."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from cocore.proto.matchmaker.v1 import matchmaker_pb2 as pb

from ..pool import LeaseClaims, ProviderEntry
from ..streams.hub import Hub
from ..streams.session import Accepted, Delivered, JobFailure, JobSession


def error_event(code: str, message: str, *, retryable: bool = True) -> pb.DispatchEvent:
    return pb.DispatchEvent(error=pb.Error(code=code, message=message, retryable=retryable))


async def run_local(
    hub: Hub, spec: pb.JobSpec, attempt: pb.Attempt, claims: LeaseClaims
) -> AsyncGenerator[pb.DispatchEvent, None]:
    """Events of one attempt; an `error` event ends it (the front decides on failover)."""
    stream = hub.connections.get((claims.did, claims.machine_id))
    entry = stream.entry if stream is not None else None
    if stream is None or entry is None:
        yield error_event("provider_not_connected", "the chosen provider is not connected")
        return
    refusal = _refusal(entry, spec, attempt)
    if refusal is not None:
        hub.pool.reservations.drop(claims.lease_id)  # give back the slot the pick held
        yield refusal
        return
    if not hub.pool.claim(claims, entry):
        yield error_event("provider_busy", "the chosen provider has no free slot")
        return
    session = hub.sessions.open(entry, stream, spec.model)
    stream.send(pb.MatchmakerFrame(job=_job_request(session, spec, attempt)))
    outcome = "cancelled"  # unless the loop below ends it another way, the caller went away
    try:
        async for item in session.deliveries():
            yield _event(hub, session, item)
        outcome = "completed"
    except JobFailure as failure:
        outcome = failure.code
        _account(hub, session, failure)
        yield error_event(failure.code, failure.message)
    finally:
        hub.sessions.finish(session, outcome)


def _refusal(
    entry: ProviderEntry, spec: pb.JobSpec, attempt: pb.Attempt
) -> pb.DispatchEvent | None:
    if spec.model not in entry.models:
        return error_event("model_not_served", "the provider no longer serves this model")
    if attempt.enc_scheme and attempt.enc_scheme != entry.identity.enc_scheme:
        return error_event("enc_scheme_mismatch", "sealed with another scheme than the provider's")
    if entry.draining:
        return error_event("provider_draining", "the provider is shutting down")
    return None


def _job_request(session: JobSession, spec: pb.JobSpec, attempt: pb.Attempt) -> pb.JobRequest:
    return pb.JobRequest(
        job_id=session.job_id,
        resume_token=session.resume_token,
        spec=spec,
        sealed_input=attempt.sealed_input,
        requester_pub_key=attempt.requester_pub_key,
        enc_scheme=session.entry.identity.enc_scheme,
    )


def _event(hub: Hub, session: JobSession, item: object) -> pb.DispatchEvent:
    entry = session.entry
    if isinstance(item, Accepted):
        started = pb.Started(did=entry.did, machine_id=entry.machine_id, job_id=session.job_id)
        return pb.DispatchEvent(started=started)
    if isinstance(item, Delivered):
        if item.first_seq == 0 and session.first_chunk_at is not None:
            ttft_s = session.first_chunk_at - session.sent_at
            hub.pool.record_first_chunk(entry, session.model, ttft_s)
            hub.events.first_chunk(ttft_s)
        return pb.DispatchEvent(chunks=pb.Chunks(first_seq=item.first_seq, chunks=item.chunks))
    assert isinstance(item, pb.JobComplete)
    _record_success(hub, session, item)
    done = pb.Completed(
        usage=item.usage, receipt=item.receipt, finish_reason=item.finish_reason,
        commitments=item.commitments, final_seq=item.final_seq,
    )  # fmt: skip
    return pb.DispatchEvent(completed=done)


def _record_success(hub: Hub, session: JobSession, complete: pb.JobComplete) -> None:
    end = session.completed_at or session.sent_at
    start = session.first_chunk_at or end
    hub.pool.record_success(session.entry, session.model, complete.usage.tokens_out, end - start)
    hub.events.job_completed(end - session.sent_at, complete.usage.tokens_out)


def _account(hub: Hub, session: JobSession, failure: JobFailure) -> None:
    hub.events.job_failed(failure.code, failure.provider_fault)
    if not failure.provider_fault:
        return
    entry = session.entry
    cooldown = hub.pool.record_failure(entry, failure.code)
    stream = hub.connections.get(entry.key)
    if cooldown is not None:
        hub.events.cooldown_started(failure.code, cooldown.until - hub.wall_clock())
    if stream is not None:  # informational: the machine learns why it lost standing
        notice = pb.Notice(kind="health_bad", reason=failure.code)
        stream.send(pb.MatchmakerFrame(notice=notice))
