"""`MatchmakerClient.run`: the one-call pick and dispatch, and each way it falls back (a fake
stub scripts the matchmaker's events: the client's decisions are the logic under test)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from cocore.proto.matchmaker.v1 import matchmaker_pb2 as pb
from services.gateway.matchmaker_client import (
    Attempt,
    Candidate,
    Chunks,
    Completed,
    Failed,
    JobSpec,
    MatchmakerClient,
    PickQuery,
    Presealed,
    Started,
)

DID = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"
SPEC = JobSpec(DID, "tiny", "messages-v1", 8, None, None, None, (), b"", "", "", b"",
               ("", ""), ("", ""), (10, "CC"), False)  # fmt: skip
QUERY = PickQuery(model="tiny", requester_did=DID, max_candidates=3)
CANDIDATE = pb.Candidate(did="did:plc:bbbbbbbbbbbbbbbbbbbbbbbb", machine_id="m1",
                         encryption_pub_key="k", enc_scheme="x25519", lease="L")  # fmt: skip
STARTED = pb.DispatchEvent(started=pb.Started(attempt=0, did=CANDIDATE.did, machine_id="m1"))
CHUNK = pb.DispatchEvent(
    chunks=pb.Chunks(first_seq=0, chunks=[pb.Chunk(channel=pb.CHANNEL_CONTENT, sealed=b"c")])
)
DONE = pb.DispatchEvent(completed=pb.Completed(finish_reason="stop"))


def failed(code: str) -> pb.DispatchEvent:
    return pb.DispatchEvent(error=pb.Error(code=code, message="m", retryable=True))


class Job:
    """A job on the dispatch stream, scripted: its events, then its end."""

    def __init__(self, events: list[pb.DispatchEvent]) -> None:
        self.events = events
        self.closed: bool | None = None  # None: open; else whether it was finished

    def __aiter__(self) -> AsyncIterator[pb.DispatchEvent]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[pb.DispatchEvent]:
        for event in self.events:
            yield event

    def close(self, *, finished: bool) -> None:
        self.closed = finished


class Stub:
    """Each dispatch gets the next scripted job; Pick answers with one candidate."""

    def __init__(self, *streams: list[pb.DispatchEvent]) -> None:
        self.streams = list(streams)
        self.requests: list[pb.DispatchRequest] = []
        self.jobs: list[Job] = []
        self.picks = 0

    async def start(self, request: pb.DispatchRequest) -> Job:
        self.requests.append(request)
        self.jobs.append(Job(self.streams.pop(0)))
        return self.jobs[-1]

    async def Pick(self, request: pb.PickRequest, **_: Any) -> pb.PickResponse:
        self.picks += 1
        return pb.PickResponse(candidates=[CANDIDATE])


async def run(stub: Stub, presealed: list[Presealed]) -> tuple[list[Any], list[list[str]]]:
    client = MatchmakerClient.__new__(MatchmakerClient)
    client.stub, client._jobs, client._auth = stub, stub, ()  # type: ignore[assignment]
    sealed_for: list[list[str]] = []

    def seal(candidates: list[Candidate]) -> list[Attempt]:
        sealed_for.append([c.did for c in candidates])
        return [Attempt(c.lease, b"sealed", "eph", c.enc_scheme) for c in candidates]

    events = [e async for e in client.run(SPEC, QUERY, presealed, seal)]
    return events, sealed_for


PRESEALED = [Presealed(CANDIDATE.did, "m1", "k", Attempt("", b"pre", "eph", "x25519"))]


async def test_a_presealed_job_runs_in_one_call_without_sealing_again() -> None:
    stub = Stub([STARTED, CHUNK, DONE])
    events, sealed_for = await run(stub, PRESEALED)
    assert [type(e) for e in events] == [Started, Chunks, Completed]
    assert sealed_for == [] and len(stub.requests) == 1 and stub.picks == 0
    assert stub.jobs[0].closed is True  # ended by its final event: nothing to cancel
    request = stub.requests[0]
    assert request.HasField("pick") and not request.attempts
    assert [p.sealed_input for p in request.presealed] == [b"pre"]


async def test_unsealed_candidates_are_sealed_for_and_dispatched() -> None:
    unsealed = pb.DispatchEvent(unsealed=pb.PickResponse(candidates=[CANDIDATE]))
    stub = Stub([unsealed], [STARTED, CHUNK, DONE])
    events, sealed_for = await run(stub, [])
    assert [type(e) for e in events] == [Started, Chunks, Completed]
    assert sealed_for == [[CANDIDATE.did]] and stub.picks == 0
    second = stub.requests[1]
    assert not second.HasField("pick") and [a.lease for a in second.attempts] == ["L"]


async def test_a_presealed_job_that_could_not_start_is_picked_and_sealed_for_again() -> None:
    stub = Stub([STARTED, failed("provider_busy")], [STARTED, CHUNK, DONE])
    events, sealed_for = await run(stub, PRESEALED)
    assert [type(e) for e in events] == [Started, Started, Chunks, Completed]
    assert stub.picks == 1 and sealed_for == [[CANDIDATE.did]]


async def test_a_failure_that_another_machine_would_not_fix_is_the_answer() -> None:
    stub = Stub([STARTED, failed("first_chunk_timeout")])
    events, sealed_for = await run(stub, PRESEALED)
    assert [type(e) for e in events] == [Started, Failed]
    assert events[-1].code == "first_chunk_timeout" and stub.picks == 0 and sealed_for == []


async def test_a_failure_after_the_first_chunk_is_never_retried() -> None:
    stub = Stub([STARTED, CHUNK, failed("provider_busy")])
    events, _ = await run(stub, PRESEALED)
    assert [type(e) for e in events] == [Started, Chunks, Failed] and stub.picks == 0


async def test_a_job_left_before_its_final_event_is_closed_unfinished() -> None:
    stub = Stub([STARTED, CHUNK, DONE])
    client = MatchmakerClient.__new__(MatchmakerClient)
    client.stub, client._jobs, client._auth = stub, stub, ()  # type: ignore[assignment]
    events = client.run(SPEC, QUERY, PRESEALED, lambda _: [])
    async for event in events:
        if isinstance(event, Chunks):
            break
    await events.aclose()
    assert stub.jobs[0].closed is False  # the matchmaker is told to stop it
