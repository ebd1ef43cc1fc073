"""JobTable: admission answers every job it cannot run with an explicit failure frame."""

from __future__ import annotations

import asyncio

import pytest

from cocore.proto.matchmaker.v1 import matchmaker_pb2 as pb
from services.provider.link import Channel, JobFailure, JobOutput, JobRequest, JobResult
from services.provider.link.jobs import JobTable


class Runner:
    def __init__(self, behaviour: str = "ok") -> None:
        self.behaviour = behaviour
        self.gate = asyncio.Event()
        self.cancelled: list[str] = []

    async def run(self, job: JobRequest, out: JobOutput) -> JobResult:
        await out.emit(Channel.CONTENT, b"sealed")
        if self.behaviour == "hang":
            try:
                await self.gate.wait()
            except asyncio.CancelledError:
                self.cancelled.append(job.job_id)
                raise
        if self.behaviour == "fail":
            raise JobFailure("undecryptable", "nope")
        if self.behaviour == "crash":
            raise RuntimeError("secret prompt text must not leak")
        return JobResult(tokens_in=1, tokens_out=1)


def table(runner: Runner, slots: int = 1) -> tuple[JobTable, list[pb.ProviderFrame]]:
    sent: list[pb.ProviderFrame] = []
    jobs = JobTable(
        runner, slots=lambda: slots, models=lambda: frozenset({"tiny"}),
        control=sent.append, notify=lambda: None,
    )  # fmt: skip
    return jobs, sent


def request(job_id: str, model: str = "tiny", **spec: object) -> pb.JobRequest:
    return pb.JobRequest(
        job_id=job_id, resume_token="t", spec=pb.JobSpec(model=model, **spec),  # type: ignore[arg-type]
        sealed_input=b"x", requester_pub_key="k", enc_scheme="x25519",
    )  # fmt: skip


def failures(sent: list[pb.ProviderFrame]) -> list[tuple[str, str]]:
    return [(f.failed.job_id, f.failed.code) for f in sent if f.WhichOneof("frame") == "failed"]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_admission_refusals_are_explicit() -> None:
    runner = Runner("hang")
    jobs, sent = table(runner)
    jobs.start(request("a"))
    jobs.start(request("b"))  # the one slot is busy
    jobs.start(request("c", model="other"))
    jobs.start(request("d", tools_json=b"{not json"))
    jobs.start(request("a"))  # a duplicate is ignored, never answered
    assert failures(sent) == [
        ("b", "at_capacity"),
        ("c", "model_not_loaded"),
        ("d", "invalid_request"),
    ]
    assert [f.accepted.job_id for f in sent if f.WhichOneof("frame") == "accepted"] == ["a"]
    jobs.draining = True
    jobs.start(request("e"))
    assert failures(sent)[-1] == ("e", "draining")
    jobs.abandon_all()


@pytest.mark.parametrize(
    ("behaviour", "code"), [("fail", "undecryptable"), ("crash", "engine_error")]
)
async def test_runner_failures_become_failure_frames(behaviour: str, code: str) -> None:
    jobs, _ = table(Runner(behaviour))
    jobs.start(request("a"))
    await settle()
    output = jobs.jobs["a"].output
    output.attached = True
    frames = jobs.pull()
    ending = frames[-1] if frames[-1].WhichOneof("frame") == "failed" else jobs.pull()[-1]
    assert ending.failed.code == code and "secret" not in ending.failed.message
    assert "a" not in jobs.jobs  # a failure needs no ack
    assert output.delivery.result() is False


async def test_completion_is_delivered_only_on_the_final_ack() -> None:
    jobs, _ = table(Runner())
    jobs.start(request("a"))
    await settle()
    output = jobs.jobs["a"].output
    assert [f.WhichOneof("frame") for f in jobs.pull()] == ["chunks"]
    assert [f.WhichOneof("frame") for f in jobs.pull()] == ["complete"]
    jobs.on_ack(pb.JobAck(job_id="a", next_seq=1))
    assert "a" in jobs.jobs and not output.delivery.done()
    jobs.on_ack(pb.JobAck(job_id="a", next_seq=1, completed=True))
    assert "a" not in jobs.jobs and output.delivery.result() is True


async def test_cancel_stops_the_runner_and_frees_the_slot() -> None:
    runner = Runner("hang")
    jobs, sent = table(runner)
    jobs.start(request("a"))
    await settle()
    task = jobs.jobs["a"].task
    jobs.cancel("a")
    await settle()
    assert task is not None and task.done() and runner.cancelled == ["a"]
    jobs.start(request("b"))
    assert failures(sent) == []  # the slot is free again


async def test_impossible_acks_and_resumes_drop_the_job() -> None:
    jobs, _ = table(Runner("hang"), slots=3)
    for name in ("a", "b", "c"):
        jobs.start(request(name))
    await settle()
    jobs.on_ack(pb.JobAck(job_id="a", next_seq=5))  # acks more than was produced
    rejected = pb.ResumeResult(job_id="b", status=pb.RESUME_STATUS_REJECTED)
    jobs.on_resume(rejected)
    ahead = pb.ResumeResult(job_id="c", status=pb.RESUME_STATUS_RESUME, next_seq=9)
    jobs.on_resume(ahead)
    assert jobs.jobs == {}
