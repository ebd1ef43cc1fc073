"""Route one provider frame after registration; job frames are fenced to the owning stream."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cocore.errors import CocoreError
from cocore.proto.matchmaker.v1 import matchmaker_pb2 as pb

from ..errors import ProtocolViolation
from ..pool import Identity
from .attestation import Claimed
from .register import parse_facts, parse_strong_ref
from .session import JobSession

if TYPE_CHECKING:
    from .connection import ProviderStream

MAX_QUEUED = 100_000


def handle_frame(stream: ProviderStream, frame: pb.ProviderFrame) -> None:
    """Apply `frame`; raises a CocoreError that ends the stream on a protocol violation."""
    kind = frame.WhichOneof("frame")
    handler = _HANDLERS.get(kind or "")
    if handler is not None:  # unknown frames are ignored: newer providers may send more
        handler(stream, frame)


def _session(stream: ProviderStream, job_id: str) -> JobSession | None:
    """The job, if this stream is the one it currently runs on (a replaced stream is ignored)."""
    session = stream.hub.sessions.get(job_id)
    return session if session is not None and session.owned_by(stream) else None


def _challenge_response(stream: ProviderStream, frame: pb.ProviderFrame) -> None:
    if stream.challenge is not None:
        stream.challenge_answered(frame.challenge_response)


def _heartbeat(stream: ProviderStream, frame: pb.ProviderFrame) -> None:
    if stream.entry is not None:
        beat = frame.heartbeat
        stream.entry.load = min(max(beat.load, 0.0), 1.0) if beat.load == beat.load else 0.0
        stream.entry.queued = min(beat.queued, MAX_QUEUED)


def _accepted(stream: ProviderStream, frame: pb.ProviderFrame) -> None:
    if session := _session(stream, frame.accepted.job_id):
        session.on_accepted()


def _chunks(stream: ProviderStream, frame: pb.ProviderFrame) -> None:
    batch = frame.chunks
    if session := _session(stream, batch.job_id):
        session.on_chunks(batch.first_seq, list(batch.chunks))


def _keepalive(stream: ProviderStream, frame: pb.ProviderFrame) -> None:
    if session := _session(stream, frame.keepalive.job_id):
        session.on_keepalive()


def _complete(stream: ProviderStream, frame: pb.ProviderFrame) -> None:
    if session := _session(stream, frame.complete.job_id):
        session.on_complete(frame.complete)


def _failed(stream: ProviderStream, frame: pb.ProviderFrame) -> None:
    failed = frame.failed
    if session := _session(stream, failed.job_id):
        session.on_failed(failed.code, failed.message)


def _resume(stream: ProviderStream, frame: pb.ProviderFrame) -> None:
    ask = frame.resume
    result = stream.hub.sessions.resume(stream, ask.job_id, ask.resume_token, ask.produced_seq)
    stream.send(pb.MatchmakerFrame(resume_result=result))


def _draining(stream: ProviderStream, frame: pb.ProviderFrame) -> None:
    if stream.entry is not None:
        stream.entry.draining = True
        stream.hub.touch(stream.entry)


def _provider_updated(stream: ProviderStream, frame: pb.ProviderFrame) -> None:
    update = frame.provider_updated
    facts = parse_facts(update.models, update.slots, update.country, update.pro_bono)
    stream.hub.update_facts(stream, facts)


def _attestation_updated(stream: ProviderStream, frame: pb.ProviderFrame) -> None:
    reg = stream.registration
    assert reg is not None
    ref = parse_strong_ref(frame.attestation_updated.attestation, reg.did)
    claimed = Claimed(reg.did, ref, reg.attestation_pub_key, reg.encryption_pub_key, reg.enc_scheme)
    stream.spawn(_renew_attestation(stream, claimed))


async def _renew_attestation(stream: ProviderStream, claimed: Claimed) -> None:
    """Check the new record off the read loop; a bad one ends the stream (routing stops)."""
    try:
        facts = await stream.hub.attestations.check(claimed)
    except CocoreError as e:
        stream.close(e)
        return
    entry = stream.entry
    if entry is not None:
        old = entry.identity
        entry.identity = Identity(
            old.did, old.machine_id, old.attestation_pub_key, old.encryption_pub_key,
            old.enc_scheme, claimed.ref, facts.expires_at, facts.trust_level, facts.tier,
        )  # fmt: skip
        stream.hub.touch(entry)


def _register_again(stream: ProviderStream, frame: pb.ProviderFrame) -> None:
    raise ProtocolViolation("register was sent twice on one stream", code="duplicate_register")


def _pong(stream: ProviderStream, frame: pb.ProviderFrame) -> None:
    pass  # its arrival already refreshed the stream's liveness


_HANDLERS = {
    "register": _register_again,
    "challenge_response": _challenge_response,
    "heartbeat": _heartbeat,
    "accepted": _accepted,
    "chunks": _chunks,
    "keepalive": _keepalive,
    "complete": _complete,
    "failed": _failed,
    "resume": _resume,
    "pong": _pong,
    "attestation_updated": _attestation_updated,
    "provider_updated": _provider_updated,
    "draining": _draining,
}
