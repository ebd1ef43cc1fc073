"""DispatchStream end to end: the gateway's stream client against a real matchmaker with real
provider links on the PDS — jobs side by side on one stream, a cancel reaching the provider,
refusals as their Dispatch statuses, and a matchmaker that restarts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from cocore import errors
from cocore.proto.matchmaker.v1 import matchmaker_pb2 as pb
from cocore.proto.matchmaker.v1 import matchmaker_pb2_grpc as pb_grpc
from cocore.rpc import error_from_rpc
from services.gateway.dispatch_stream import DispatchStream, StreamedJob
from services.matchmaker.server import MatchmakerService, start
from services.provider.link import EchoRunner
from tests.fixtures.atproto import AtprotoStack

from .matchmaker_kit import (
    AUTH,
    Machine,
    Requester,
    eventually,
    make_machine,
    matchmaker_config,
    slots_in_use,
)

pytestmark = pytest.mark.pds


@pytest.fixture
async def machine(
    atproto_stack: AtprotoStack, matchmaker: MatchmakerService
) -> AsyncIterator[Machine]:
    m = await make_machine(
        atproto_stack, matchmaker.address, runner=lambda kp: EchoRunner(kp, delay_s=0.05)
    )
    m.start()
    await m.wait_registered()
    yield m
    await m.stop()


@pytest.fixture
async def jobs(requester: Requester) -> AsyncIterator[DispatchStream]:
    stream = DispatchStream(requester.stub, AUTH)
    yield stream
    await stream.aclose()


async def sealed(requester: Requester, prompt: str) -> tuple[pb.DispatchRequest, object]:
    picked = await requester.pick()
    attempts, openers = requester.seal(list(picked.candidates), prompt)
    return pb.DispatchRequest(spec=requester.spec(), attempts=attempts), openers[0]


async def read(job: StreamedJob, opener: object) -> str:
    text: dict[int, str] = {}
    async for event in job:
        if event.WhichOneof("event") == "chunks":
            for offset, chunk in enumerate(event.chunks.chunks):
                text[event.chunks.first_seq + offset] = opener.open_chunk(chunk.sealed).decode()  # type: ignore[attr-defined]
        assert event.WhichOneof("event") != "error", event.error
    job.close(finished=True)
    return "".join(text[seq] for seq in sorted(text))


async def test_jobs_side_by_side_on_one_stream_each_get_their_own_answer(
    matchmaker: MatchmakerService, machine: Machine, requester: Requester, jobs: DispatchStream
) -> None:
    first, first_opener = await sealed(requester, "one two three")
    second, second_opener = await sealed(requester, "four five")
    a, b = await jobs.start(first), await jobs.start(second)
    assert a.ref != b.ref
    answers = await asyncio.gather(read(a, first_opener), read(b, second_opener))
    assert list(answers) == ["echo: one two three", "echo: four five"]
    assert a.ended and b.ended  # each got its JobEnd: OK
    runner = machine.runner
    assert isinstance(runner, EchoRunner) and len(runner.finished) == 2 and not runner.cancelled
    await eventually(lambda: slots_in_use(matchmaker) == 0)
    # and the stream stays open for the next job
    third, opener = await sealed(requester, "six")
    assert await read(await jobs.start(third), opener) == "echo: six"


async def test_a_job_left_early_is_cancelled_at_the_provider_and_the_others_go_on(
    matchmaker: MatchmakerService, machine: Machine, requester: Requester, jobs: DispatchStream
) -> None:
    left, _ = await sealed(requester, "a b c d e f g h i j k l m n o p")
    kept, kept_opener = await sealed(requester, "still here")
    job = await jobs.start(left)
    other = await jobs.start(kept)
    async for event in job:
        if event.WhichOneof("event") == "chunks":
            break
    job.close(finished=False)
    runner = machine.runner
    assert isinstance(runner, EchoRunner)
    assert await read(other, kept_opener) == "echo: still here"
    await eventually(lambda: len(runner.cancelled) == 1)
    await eventually(lambda: slots_in_use(matchmaker) == 0 and not machine.link.jobs.jobs)
    assert len(runner.finished) == 1  # the job left early never ran to its end, never billed


async def test_a_refused_job_ends_with_its_dispatch_status_and_the_stream_goes_on(
    machine: Machine, requester: Requester, jobs: DispatchStream
) -> None:
    spec = requester.spec(model="no-such-model")
    pick = pb.PickRequest(model="no-such-model", requester_did=requester.did)
    refused = await jobs.start(pb.DispatchRequest(spec=spec, pick=pick))
    with pytest.raises(errors.NotFound) as caught:
        async for _ in refused:
            pass
    # the same group and code the Dispatch call ends with
    with pytest.raises(grpc.aio.AioRpcError) as direct:
        async for _ in requester.stub.Dispatch(pb.DispatchRequest(spec=spec, pick=pick),
                                               metadata=AUTH):  # fmt: skip
            pass
    assert caught.value.code == error_from_rpc(direct.value).code
    assert caught.value.message == error_from_rpc(direct.value).message
    request, opener = await sealed(requester, "after a refusal")
    assert await read(await jobs.start(request), opener) == "echo: after a refusal"


async def test_a_ref_already_running_ends_the_stream_and_its_jobs_fail(
    machine: Machine, requester: Requester
) -> None:
    request, _ = await sealed(requester, "a b c d e f g h i j k l m n o p")
    call = requester.stub.DispatchStream(metadata=AUTH)
    await call.write(pb.DispatchStreamRequest(ref=7, dispatch=request))
    await call.write(pb.DispatchStreamRequest(ref=7, dispatch=request))
    with pytest.raises(grpc.aio.AioRpcError) as ended:
        async for _ in call:
            pass
    assert ended.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_from_rpc(ended.value).code == "duplicate_ref"
    runner = machine.runner
    assert isinstance(runner, EchoRunner)
    await eventually(lambda: not machine.link.jobs.jobs)  # the first job was stopped


async def test_the_stream_needs_the_service_credential(matchmaker: MatchmakerService) -> None:
    channel = grpc.aio.insecure_channel(matchmaker.address)
    try:
        call = pb_grpc.MatchmakerStub(channel).DispatchStream()
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            async for _ in call:
                pass
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        await channel.close()


async def test_a_matchmaker_that_goes_away_fails_the_jobs_on_its_stream(
    atproto_stack: AtprotoStack, tmp_path: Path
) -> None:
    first = await start(matchmaker_config(atproto_stack, tmp_path / "mm.sqlite"))
    requester = Requester(first.address)
    m = await make_machine(
        atproto_stack, first.address, runner=lambda kp: EchoRunner(kp, delay_s=0.5)
    )
    m.start()
    jobs = DispatchStream(requester.stub, AUTH)
    try:
        await m.wait_registered()
        request, _ = await sealed(requester, "a b c d e f g h")
        job = await jobs.start(request)
        await first.stop(grace_s=0)
        kinds: list[str | None] = []
        with contextlib.suppress(errors.CocoreError):  # the stream broke under the job
            async for event in job:
                kinds.append(event.WhichOneof("event"))
        assert job.ended and "completed" not in kinds  # an error event, or the break
        with pytest.raises(errors.Unavailable):  # nobody listens: as a Dispatch call fails
            await jobs.start(request)
    finally:
        await jobs.aclose()
        await m.stop()
        await requester.aclose()
        await first.stop(grace_s=0)
