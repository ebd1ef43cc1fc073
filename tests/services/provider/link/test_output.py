"""JobOutput: seq numbers, bounded replay, acks, resume from the shared vectors, backpressure."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cocore.proto.matchmaker.v1 import matchmaker_pb2 as pb
from cocore.streamresume import ResumeStatus, provider_accepts_resume
from services.provider.link import Channel, JobCancelled, JobFailure, JobOutput
from services.provider.link.output import OutputLimits, ReplayBudget
from tests.conftest import load_vector

VECTORS = load_vector("stream-resume-vectors.json")


def output(window: int = 4, budget: int = 1 << 20, **limits: int) -> JobOutput:
    return JobOutput(
        "job", OutputLimits(window_chunks=window, **limits), ReplayBudget(budget, lambda: None),
        lambda: None,
    )  # fmt: skip


def seqs(frame: pb.ProviderFrame | None) -> list[int]:
    assert frame is not None and frame.WhichOneof("frame") == "chunks"
    return [frame.chunks.first_seq + i for i in range(len(frame.chunks.chunks))]


async def test_emit_numbers_chunks_and_pull_batches_them() -> None:
    out = output()
    out.attached = True
    assert [await out.emit(Channel.CONTENT, b"a"), await out.emit(Channel.REASONING, b"b")] == [
        0,
        1,
    ]
    frame = out.pull()
    assert seqs(frame) == [0, 1]
    assert frame is not None and frame.chunks.chunks[1].channel == pb.CHANNEL_REASONING
    assert out.pull() is None


async def test_window_blocks_emit_until_acked() -> None:
    out = output(window=2)
    await out.emit(Channel.CONTENT, b"0")
    await out.emit(Channel.CONTENT, b"1")
    third = asyncio.ensure_future(out.emit(Channel.CONTENT, b"2"))
    await asyncio.sleep(0.01)
    assert not third.done()  # backpressure: the engine waits
    assert out.ack(1)
    assert await asyncio.wait_for(third, 1) == 2


async def test_replay_budget_is_shared_and_bounded() -> None:
    budget = ReplayBudget(10, lambda: None)
    a = JobOutput("a", OutputLimits(window_chunks=100), budget, lambda: None)
    await a.emit(Channel.CONTENT, b"x" * 8)
    await a.emit(Channel.CONTENT, b"x" * 2)
    blocked = asyncio.ensure_future(a.emit(Channel.CONTENT, b"y"))
    await asyncio.sleep(0.01)
    assert not blocked.done() and budget.used == 10
    a.ack(1)
    await asyncio.wait_for(blocked, 1)
    assert budget.used == 3


async def test_impossible_acks_are_refused() -> None:
    out = output()
    await out.emit(Channel.CONTENT, b"a")
    assert not out.ack(2)  # beyond what was produced
    assert out.ack(1)
    assert not out.ack(0)  # acks never go backwards


async def test_oversized_chunk_is_an_explicit_failure() -> None:
    out = output(max_chunk_bytes=4)
    with pytest.raises(JobFailure) as err:
        await out.emit(Channel.CONTENT, b"12345")
    assert err.value.code == "chunk_too_large"


async def test_cancel_wakes_a_blocked_emitter_with_job_cancelled() -> None:
    out = output(window=1)
    await out.emit(Channel.CONTENT, b"0")
    blocked = asyncio.ensure_future(out.emit(Channel.CONTENT, b"1"))
    await asyncio.sleep(0.01)
    out.cancel()
    with pytest.raises(JobCancelled):
        await asyncio.wait_for(blocked, 1)
    assert out.cancelled


async def test_detached_output_sends_nothing_and_replays_after_resume() -> None:
    out = output(window=8)
    out.attached = True
    for i in range(3):
        await out.emit(Channel.CONTENT, bytes([i]))
    assert seqs(out.pull()) == [0, 1, 2]
    out.ack(1)
    out.attached = False
    assert out.pull() is None
    assert out.resume_from(1)
    assert seqs(out.pull()) == [1, 2]  # the matchmaker had only seq 0
    assert not out.resume_from(0)  # seq 0 was acknowledged and dropped


@pytest.mark.parametrize("case", VECTORS["resume"], ids=lambda c: c["name"])
async def test_resume_vectors_on_the_provider_side(case: dict[str, Any]) -> None:
    produced = case.get("producedSeq", case.get("providerProducedSeq"))
    assert isinstance(produced, int)  # every resume vector has one of the two
    out = output(window=16)
    for i in range(produced):
        await out.emit(Channel.CONTENT, bytes([i]))
    if "advisorNextSeq" in case:
        status, next_seq = ResumeStatus(case["status"]), case["nextSeq"]
    else:
        status, next_seq = ResumeStatus(case["resultStatus"]), case["resultNextSeq"]
    keeps = provider_accepts_resume(status, next_seq, produced) and out.resume_from(next_seq)
    assert keeps == case.get("providerKeepsJob", True)
    if keeps:
        assert seqs(out.pull()) == case["providerReplaysSeqs"]


async def test_ending_goes_after_the_chunks_and_release_settles_delivery() -> None:
    out = output()
    out.attached = True
    await out.emit(Channel.CONTENT, b"a")
    out.finish(pb.ProviderFrame(complete=pb.JobComplete(job_id="job", final_seq=1)))
    assert seqs(out.pull()) == [0]
    ending = out.pull()
    assert ending is not None and ending.WhichOneof("frame") == "complete"
    assert out.pull() is None
    out.release(delivered=True)
    assert out.delivery.result() is True
