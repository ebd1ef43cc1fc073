"""The matchmaker as the gateway calls it: Pick, Dispatch, ListProviders.

The one module that speaks the matchmaker's proto; everything else sees the plain values
below, so a change to that proto is a change here only.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc

from cocore.errors import CocoreError, InvalidInput, NotFound, ResourceExhausted
from cocore.errors import Unavailable as UnavailableGroup
from cocore.proto.common.v1 import common_pb2
from cocore.proto.matchmaker.v1 import matchmaker_pb2 as pb
from cocore.proto.matchmaker.v1 import matchmaker_pb2_grpc
from cocore.rpc import error_from_rpc

from .dispatch_stream import DispatchStream, StreamedJob
from .errors import InvalidRequest, ModelNotFound, NoProviders, Unavailable

CONTENT, REASONING, TOOL_CALL = 1, 2, 3  # the proto's Channel values
PICK_TIMEOUT_S = 5.0
# An attempt that ended with one of these never ran: another pick may find a machine that can.
NEVER_RAN = frozenset({
    "provider_not_connected", "provider_busy", "at_capacity", "providers_busy",
    "model_not_served", "model_not_loaded", "provider_draining", "draining",
    "enc_scheme_mismatch", "attempt_ended", "provider_disconnected",
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class PickQuery:
    model: str
    requester_did: str
    min_trust: str = ""
    accepted_providers: tuple[str, ...] = ()
    friends: tuple[str, ...] | None = None  # None: not friends-only
    country: str = ""
    min_version: str = ""
    needs_tools: bool = False
    pro_bono: bool = False
    max_candidates: int = 1


@dataclass(frozen=True, slots=True)
class Candidate:
    did: str
    machine_id: str
    encryption_pub_key: str
    enc_scheme: str
    attestation_uri: str
    attestation_cid: str
    lease: str
    pro_bono: bool


@dataclass(frozen=True, slots=True)
class Attempt:
    lease: str
    sealed_input: bytes
    requester_pub_key: str
    enc_scheme: str


@dataclass(frozen=True, slots=True)
class Presealed:
    """The input sealed before the pick to a machine's key (used if the pick chooses it)."""

    did: str
    machine_id: str
    encryption_pub_key: str
    attempt: Attempt  # its lease is empty: the pick's lease goes with it


@dataclass(frozen=True, slots=True)
class JobSpec:
    requester_did: str
    model: str
    input_format: str
    max_tokens: int
    temperature_milli: int | None
    top_p_milli: int | None
    seed: int | None
    stop: tuple[str, ...]
    tools_json: bytes
    tool_choice: str
    tool_choice_function: str
    output_schema_json: bytes
    job: tuple[str, str]  # (uri, cid)
    authorization: tuple[str, str]
    price_ceiling: tuple[int, str]  # (amount, currency)
    pro_bono: bool


@dataclass(frozen=True, slots=True)
class Started:
    attempt: int
    did: str
    machine_id: str


@dataclass(frozen=True, slots=True)
class Chunks:
    first_seq: int
    chunks: list[tuple[int, bytes]]  # (channel, sealed)


@dataclass(frozen=True, slots=True)
class Failover:
    attempt: int
    code: str


@dataclass(frozen=True, slots=True)
class Completed:
    tokens_in: int
    tokens_out: int
    reasoning_tokens: int
    finish_reason: str
    receipt_uri: str
    receipt_cid: str
    output_cipher_commitment: str


@dataclass(frozen=True, slots=True)
class Failed:
    code: str
    message: str


Event = Started | Chunks | Failover | Completed | Failed


@dataclass(frozen=True, slots=True)
class ModelRow:
    id: str
    context_length: int
    tools: bool


@dataclass(frozen=True, slots=True)
class ProviderRow:
    did: str
    machine_id: str
    draining: bool
    models: list[ModelRow] = field(default_factory=list)


Sealer = Callable[[list[Candidate]], list[Attempt]]


class MatchmakerClient:
    def __init__(self, address: str, token: str) -> None:
        self.channel = grpc.aio.insecure_channel(address)
        self.stub = matchmaker_pb2_grpc.MatchmakerStub(self.channel)
        self._auth = (("authorization", f"Bearer {token}"),)
        self._jobs = DispatchStream(self.stub, self._auth)

    async def aclose(self) -> None:
        await self._jobs.aclose()
        await self.channel.close()

    async def pick(self, q: PickQuery) -> list[Candidate]:
        try:
            r = await self.stub.Pick(_pick(q), metadata=self._auth, timeout=PICK_TIMEOUT_S)
        except grpc.aio.AioRpcError as e:
            raise _pick_error(error_from_rpc(e), q.model) from None
        return [_candidate(c) for c in r.candidates]

    async def run(
        self, spec: JobSpec, q: PickQuery, presealed: list[Presealed], seal: Sealer
    ) -> AsyncGenerator[Event, None]:
        """Pick and dispatch in one call: the job runs at once when the pick's best candidate
        is one the input came presealed to; otherwise `seal` makes the attempts for the
        candidates the pick returned, and they are dispatched. A presealed run that fails
        before it streams is picked and sealed for once more (the usual failover)."""
        request = pb.DispatchRequest(spec=_spec(spec), pick=_pick(q), presealed=[
            pb.Presealed(did=p.did, machine_id=p.machine_id,
                         encryption_pub_key=p.encryption_pub_key,
                         sealed_input=p.attempt.sealed_input,
                         requester_pub_key=p.attempt.requester_pub_key,
                         enc_scheme=p.attempt.enc_scheme)
            for p in presealed
        ])  # fmt: skip
        candidates: list[Candidate] | None = None
        streamed = finished = False
        job: StreamedJob | None = None
        try:
            job = await self._jobs.start(request)
            async for raw in job:
                finished = _final(raw)
                if raw.WhichOneof("event") == "unsealed":
                    candidates = [_candidate(c) for c in raw.unsealed.candidates]
                    break
                event = _event(raw)
                if isinstance(event, Failed) and not streamed and event.code in NEVER_RAN:
                    break  # the presealed attempts could not start: fail over below
                streamed = streamed or isinstance(event, Chunks)
                yield event
            else:
                return
        except CocoreError as error:
            if not streamed and isinstance(error, InvalidInput | NotFound | ResourceExhausted |
                                           UnavailableGroup):  # fmt: skip
                raise _pick_error(error, q.model) from None  # refused at the pick
            yield Failed(error.code if error.code != "internal" else "matchmaker_error",
                         "the matchmaker ended the job")  # fmt: skip
            return
        finally:
            if job is not None:
                job.close(finished=finished)
        if candidates is None:
            candidates = await self.pick(q)
        async for event in self.dispatch(spec, seal(candidates)):
            yield event

    async def dispatch(self, spec: JobSpec, attempts: list[Attempt]) -> AsyncGenerator[Event, None]:
        """The job's events; closing the iterator cancels the job at the provider."""
        request = pb.DispatchRequest(spec=_spec(spec), attempts=[
            pb.Attempt(lease=a.lease, sealed_input=a.sealed_input,
                       requester_pub_key=a.requester_pub_key, enc_scheme=a.enc_scheme)
            for a in attempts
        ])  # fmt: skip
        finished = False
        job: StreamedJob | None = None
        try:
            job = await self._jobs.start(request)
            async for event in job:
                finished = _final(event)
                yield _event(event)
        except CocoreError as error:
            if isinstance(error, InvalidInput):
                raise InvalidRequest(f"the matchmaker refused the job: {error.message}",
                                     code=error.code) from None  # fmt: skip
            yield Failed(error.code if error.code != "internal" else "matchmaker_error",
                         "the matchmaker ended the job")  # fmt: skip
        finally:
            if job is not None:
                job.close(finished=finished)

    async def release_lease(self, lease: str) -> bool:
        """Give a picked slot back (best effort: an unreleased lease expires on its own)."""
        try:
            request = pb.ReleaseLeaseRequest(lease=lease)
            r = await self.stub.ReleaseLease(request, metadata=self._auth, timeout=PICK_TIMEOUT_S)
        except grpc.aio.AioRpcError:
            return False
        return bool(r.released)

    async def providers(self) -> list[ProviderRow]:
        try:
            r = await self.stub.ListProviders(
                pb.ListProvidersRequest(), metadata=self._auth, timeout=PICK_TIMEOUT_S
            )
        except grpc.aio.AioRpcError:
            raise Unavailable(
                "the matchmaker is unavailable", code="matchmaker_unavailable"
            ) from None
        return [
            ProviderRow(p.did, p.machine_id, p.draining,
                        [ModelRow(m.id, m.context_length, m.tools) for m in p.models])
            for p in r.providers
        ]  # fmt: skip


def _final(event: pb.DispatchEvent) -> bool:
    """The matchmaker sends nothing after this event but the job's end."""
    return event.WhichOneof("event") in ("completed", "error", "unsealed")


def _pick_error(error: CocoreError, model: str) -> Exception:
    if isinstance(error, NotFound):
        return ModelNotFound(f"no provider on the network serves the model {model!r}",
                             param="model")  # fmt: skip
    if isinstance(error, InvalidInput):
        return InvalidRequest(f"routing: {error.message}", code=error.code)
    if isinstance(error, UnavailableGroup | ResourceExhausted) and error.code != "unavailable":
        return NoProviders(f"no provider can take this job now ({error.code})",
                           details={"reason": error.code, "retry_after_s": 1})  # fmt: skip
    return Unavailable("the matchmaker is unavailable", code="matchmaker_unavailable")


def _pick(q: PickQuery) -> pb.PickRequest:
    return pb.PickRequest(
        model=q.model, requester_did=q.requester_did, min_trust_level=q.min_trust,
        accepted_providers=list(q.accepted_providers), friends=list(q.friends or ()),
        friends_only=q.friends is not None, country=q.country, min_version=q.min_version,
        needs_tools=q.needs_tools, pro_bono=q.pro_bono, max_candidates=q.max_candidates,
    )  # fmt: skip


def _candidate(c: Any) -> Candidate:
    return Candidate(c.did, c.machine_id, c.encryption_pub_key, c.enc_scheme or "x25519",
                     c.attestation.uri, c.attestation.cid, c.lease, c.pro_bono)  # fmt: skip


def _spec(s: JobSpec) -> pb.JobSpec:
    sampling = pb.SamplingParams(max_tokens=s.max_tokens)
    if s.temperature_milli is not None:
        sampling.temperature_milli = s.temperature_milli
    if s.top_p_milli is not None:
        sampling.top_p_milli = s.top_p_milli
    if s.seed is not None:
        sampling.seed = s.seed
    return pb.JobSpec(
        requester_did=s.requester_did, model=s.model, input_format=s.input_format,
        sampling=sampling, stop=list(s.stop), tools_json=s.tools_json,
        tool_choice=s.tool_choice, tool_choice_function=s.tool_choice_function,
        output_schema_json=s.output_schema_json,
        job=common_pb2.StrongRef(uri=s.job[0], cid=s.job[1]),
        authorization=common_pb2.StrongRef(uri=s.authorization[0], cid=s.authorization[1]),
        price_ceiling=common_pb2.Money(amount=s.price_ceiling[0], currency=s.price_ceiling[1]),
        pro_bono=s.pro_bono,
    )  # fmt: skip


def _event(e: Any) -> Event:
    kind = e.WhichOneof("event")
    if kind == "started":
        return Started(e.started.attempt, e.started.did, e.started.machine_id)
    if kind == "chunks":
        return Chunks(e.chunks.first_seq, [(int(c.channel), c.sealed) for c in e.chunks.chunks])
    if kind == "failover":
        return Failover(e.failover.attempt, e.failover.code)
    if kind == "completed":
        c = e.completed
        return Completed(c.usage.tokens_in, c.usage.tokens_out, c.usage.reasoning_tokens,
                         c.finish_reason or "stop", c.receipt.uri, c.receipt.cid,
                         c.commitments.output_cipher)  # fmt: skip
    if kind == "error":
        return Failed(e.error.code or "dispatch_error", e.error.message)
    return Failed("unknown_event", "the matchmaker sent an event this gateway does not know")
