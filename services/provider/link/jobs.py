"""The jobs a machine holds: admission, one task per job, acks, cancellation, resume."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cocore.proto.matchmaker.v1 import matchmaker_pb2 as pb
from cocore.streamresume import ResumeStatus, provider_accepts_resume

from .convert import complete_frame, failed_frame, job_request
from .output import JobOutput, OutputLimits, ReplayBudget
from .types import JobCancelled, JobFailure, JobRequest, JobRunner

log = logging.getLogger("cocore.provider.link")

_RESUME_STATUS = {
    pb.RESUME_STATUS_RESUME: ResumeStatus.RESUME,
    pb.RESUME_STATUS_REJECTED: ResumeStatus.REJECTED,
}


@dataclass(eq=False)
class Job:
    request: JobRequest
    resume_token: str
    output: JobOutput
    task: asyncio.Task[None] | None = None
    started_at: float = field(default_factory=time.monotonic)
    keepalive_at: float = 0.0


class JobTable:
    """Every job the machine holds, across reconnects; `pull` feeds the stream writer."""

    def __init__(
        self,
        runner: JobRunner,
        *,
        slots: Callable[[], int],
        models: Callable[[], frozenset[str]],
        control: Callable[[pb.ProviderFrame], None],
        notify: Callable[[], None],
        replay_budget_bytes: int = 32 * 1024 * 1024,
    ) -> None:
        self._runner = runner
        self._slots = slots
        self._models = models
        self._control = control  # queue a frame on the current stream (dropped if none)
        self._notify = notify  # wake the stream writer: a job has something to send
        self.limits = OutputLimits()
        self.budget = ReplayBudget(replay_budget_bytes, self._wake_all)
        self.jobs: dict[str, Job] = {}
        self.draining = False
        self._idle = asyncio.Event()
        self._idle.set()

    def __len__(self) -> int:
        return len(self.jobs)

    def running(self) -> int:
        return sum(1 for job in self.jobs.values() if job.output.ending is None)

    # ------------------------------------------------------------ matchmaker frames

    def start(self, msg: pb.JobRequest) -> None:
        """Admit and start a job, or answer at once with an explicit failure frame."""
        if msg.job_id in self.jobs or not msg.job_id:
            return  # a duplicate: answering would disturb the live original
        try:
            request = job_request(msg)
            refusal = self._admission(msg)
        except JobFailure as e:  # a malformed request
            refusal = (e.code, e.message)
        if self.draining:
            refusal = ("draining", "the machine is shutting down")
        if refusal is not None:
            self._control(failed_frame(msg.job_id, *refusal))
            return
        output = JobOutput(msg.job_id, self.limits, self.budget, self._notify)
        output.attached = True
        job = self.jobs[msg.job_id] = Job(request, msg.resume_token, output)
        self._idle.clear()
        # The job first: its task opens the input and hands it to the engine before the
        # writer wakes to send the acceptance (the first token waits on the former only).
        job.task = asyncio.get_running_loop().create_task(self._run(job))
        self._control(pb.ProviderFrame(accepted=pb.JobAccepted(job_id=msg.job_id)))

    def _admission(self, msg: pb.JobRequest) -> tuple[str, str] | None:
        if msg.spec.model not in self._models():
            return "model_not_loaded", "the model is not loaded on this machine"
        if self.running() >= self._slots():
            return "at_capacity", "every slot of the machine is busy"
        return None

    async def _run(self, job: Job) -> None:
        output, job_id = job.output, job.request.job_id
        try:
            result = await self._runner.run(job.request, output)
        except (asyncio.CancelledError, JobCancelled):
            return  # cancelled by the matchmaker or abandoned: nothing more to say
        except JobFailure as e:
            output.finish(failed_frame(job_id, e.code, e.message))
        except Exception as e:  # noqa: BLE001 (any engine fault becomes a failure frame)
            log.warning("job %s failed in the engine: %s", job_id, type(e).__name__)
            output.finish(failed_frame(job_id, "engine_error", "the engine failed"))
        else:
            output.finish(complete_frame(job_id, result, output.produced))

    def cancel(self, job_id: str) -> None:
        """Stop and forget a job that will not be delivered (cancel, reject, abandon)."""
        self._drop(job_id, delivered=False)

    def _drop(self, job_id: str, *, delivered: bool) -> None:
        job = self.jobs.pop(job_id, None)
        if job is not None:
            job.output.cancel()
            job.output.release(delivered)
            if job.task is not None:
                job.task.cancel()
            self._check_idle()

    def on_ack(self, ack: pb.JobAck) -> None:
        job = self.jobs.get(ack.job_id)
        if job is None:
            return
        if not job.output.ack(ack.next_seq):
            log.warning("job %s: impossible ack; dropping it", ack.job_id)
            self.cancel(ack.job_id)
        elif ack.completed and job.output.ending is not None:
            completed = job.output.ending.WhichOneof("frame") == "complete"
            self._drop(ack.job_id, delivered=completed)  # delivered in full: forget it

    def on_resume(self, result: pb.ResumeResult) -> None:
        job = self.jobs.get(result.job_id)
        if job is None:
            return
        status = _RESUME_STATUS.get(result.status)
        output = job.output
        if status is None or not provider_accepts_resume(status, result.next_seq, output.produced):
            self.cancel(result.job_id)  # completed, rejected or a protocol violation
        elif not output.resume_from(result.next_seq):
            self.cancel(result.job_id)  # asks for chunks already dropped

    # ------------------------------------------------------------ the stream's view

    def resumes(self) -> list[pb.ProviderFrame]:
        """After a reconnect: one JobResume per job still held."""
        return [
            pb.ProviderFrame(
                resume=pb.JobResume(
                    job_id=job_id, resume_token=job.resume_token, produced_seq=job.output.produced
                )
            )
            for job_id, job in self.jobs.items()
        ]

    def detach_all(self) -> None:
        for job in self.jobs.values():
            job.output.attached = False

    def pull(self) -> list[pb.ProviderFrame]:
        """One frame per job that has something to send (round robin across jobs)."""
        frames = []
        for job_id, job in list(self.jobs.items()):
            frame = job.output.pull()
            if frame is None:
                continue
            frames.append(frame)
            if frame.WhichOneof("frame") == "failed":
                self.cancel(job_id)  # a failure needs no ack
        return frames

    def keepalives(self, interval_s: float) -> list[pb.ProviderFrame]:
        now, frames = time.monotonic(), []
        for job_id, job in self.jobs.items():
            out = job.output
            quiet_since = max(out.last_emit_at, job.keepalive_at, job.started_at)
            if out.attached and out.ending is None and now - quiet_since >= interval_s:
                job.keepalive_at = now
                frames.append(pb.ProviderFrame(keepalive=pb.JobKeepalive(job_id=job_id)))
        return frames

    def abandon_all(self) -> None:
        """The matchmaker did not come back within the retention: stop everything."""
        for job_id in list(self.jobs):
            self.cancel(job_id)

    async def wait_idle(self) -> None:
        await self._idle.wait()

    def _check_idle(self) -> None:
        if not self.jobs:
            self._idle.set()

    def _wake_all(self) -> None:
        for job in self.jobs.values():
            job.output.wake()
