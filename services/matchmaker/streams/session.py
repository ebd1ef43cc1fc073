"""One dispatched job on its provider's stream: in-order chunks, delivery-paced acks, timers.

The provider pushes (the connection's reader calls `on_*`, which never blocks); the dispatch
pulls with `deliveries()`, which owns every timer of the job, so nothing outlives it. A
chunk is acknowledged only once it has been handed to the caller: the provider's window of
unacknowledged chunks is the flow control, so a slow caller slows only its own job.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

from cocore.proto.matchmaker.v1 import matchmaker_pb2 as pb
from cocore.streamresume import ChunkVerdict, ChunkWindow

from ..pool import ProviderEntry, ProviderKey
from ..settings import JobSettings

FINGERPRINTS = 512  # replayed chunks are compared against what was delivered
BATCH_BYTES = 1024 * 1024  # chunks relayed to the caller in one message


class Phase(IntEnum):
    SENT = 0  # JobRequest written, not yet accepted
    ACCEPTED = 1  # the provider took it; no chunk yet
    STREAMING = 2  # at least one chunk accepted


class Link(Protocol):
    """The stream a session's frames travel on."""

    key: ProviderKey | None

    def send(self, frame: pb.MatchmakerFrame) -> bool: ...


class JobFailure(Exception):
    """How a job ended badly; `provider_fault` decides whether the machine is blamed."""

    def __init__(self, code: str, message: str, *, provider_fault: bool) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.provider_fault = provider_fault


@dataclass(frozen=True, slots=True)
class Accepted:
    pass


@dataclass(frozen=True, slots=True)
class Delivered:
    first_seq: int
    chunks: list[pb.Chunk]


Delivery = Accepted | Delivered | pb.JobComplete


class JobSession:
    def __init__(
        self,
        job_id: str,
        resume_token: str,
        entry: ProviderEntry,
        model: str,
        *,
        link: Link,
        settings: JobSettings,
        window_chunks: int,
        max_chunk_bytes: int,
        loop_time: Callable[[], float],
    ) -> None:
        self.job_id = job_id
        self.resume_token = resume_token
        self.entry = entry
        self.model = model
        self.link: Link | None = link
        self.window = ChunkWindow()
        self.delivered = 0
        self.phase = Phase.SENT
        self.completion: pb.JobComplete | None = None
        self.failure: JobFailure | None = None
        self.done = False  # the completion reached the caller
        self._s = settings
        self._window_chunks = window_chunks
        self._max_chunk = max_chunk_bytes
        self._time = loop_time
        self._pending: deque[pb.Chunk] = deque()
        self._prints: OrderedDict[int, tuple[int, int]] = OrderedDict()
        self._wake = asyncio.Event()
        self._announced = False
        now = loop_time()
        self.sent_at = self.last_activity = now
        self.first_chunk_at: float | None = None
        self.completed_at: float | None = None
        self.detached_at: float | None = None

    # ------------------------------------------------------------ provider side

    def owned_by(self, link: Link) -> bool:
        return self.link is link and self.failure is None

    def on_accepted(self) -> None:
        if self.phase is Phase.SENT:
            self.phase = Phase.ACCEPTED
        self._touch()

    def on_keepalive(self) -> None:
        self._touch()

    def on_chunks(self, first_seq: int, chunks: list[pb.Chunk]) -> None:
        for offset, chunk in enumerate(chunks):
            if not self._offer(first_seq + offset, chunk):
                return
        if len(self._pending) > self._window_chunks:
            self.fail("window_exceeded", "the provider sent past its window", provider_fault=True)
            return
        self._touch()

    def _offer(self, seq: int, chunk: pb.Chunk) -> bool:
        if len(chunk.sealed) > self._max_chunk:
            self.fail("chunk_too_large", "a sealed chunk exceeds the limit", provider_fault=True)
            return False
        print_ = (chunk.channel, hash(chunk.sealed))
        verdict = self.window.offer(seq)
        if verdict is ChunkVerdict.ACCEPT:
            self._pending.append(chunk)
            self._prints[seq] = print_
            if len(self._prints) > FINGERPRINTS:
                self._prints.popitem(last=False)
            if self.phase is not Phase.STREAMING:
                self.phase, self.first_chunk_at = Phase.STREAMING, self._time()
            return True
        if verdict is ChunkVerdict.DUPLICATE and self._prints.get(seq, print_) == print_:
            return True  # a replay of what we have: nothing to deliver again
        code = "resume_sequence_conflict" if verdict is ChunkVerdict.DUPLICATE else "sequence_gap"
        self.fail(code, f"chunk {seq} breaks the sequence", provider_fault=True)
        return False

    def on_complete(self, complete: pb.JobComplete) -> None:
        if self.completion is not None:
            return  # re-sent after a resume
        if not self.window.completion_accepted(complete.final_seq):
            self.fail("sequence_violation", "completion does not match the chunks sent", True)
            return
        self.completion = complete
        self.completed_at = self._time()
        self._wake.set()

    def on_failed(self, code: str, message: str) -> None:
        fault = code not in REQUEST_FAULTS
        self.fail(code or "provider_failed", message or "the provider failed the job", fault)

    def fail(self, code: str, message: str, provider_fault: bool) -> None:
        if self.failure is None and not self.done:
            self.failure = JobFailure(code[:64], message[:200], provider_fault=provider_fault)
            self._wake.set()

    def detach(self) -> None:
        if self.link is not None:
            self.link, self.detached_at = None, self._time()
            self._wake.set()

    def attach(self, link: Link) -> None:
        self.link, self.detached_at = link, None
        self._touch()

    def _touch(self) -> None:
        self.last_activity = self._time()
        self._wake.set()

    # ------------------------------------------------------------ caller side

    async def deliveries(self) -> AsyncIterator[Delivery]:
        """Accepted once, chunk batches, then the completion; raises JobFailure otherwise."""
        while True:
            if self.failure is not None:
                raise self.failure
            if self.phase >= Phase.ACCEPTED and not self._announced:
                self._announced = True
                yield Accepted()
            elif self._pending:
                yield self._take()
                self._ack(completed=False)
            elif self.completion is not None:
                # Settled before handing it over: a consumer may stop iterating right after.
                self.done = True
                self._ack(completed=True)
                yield self.completion
                return
            else:
                await self._wait()

    def _take(self) -> Delivered:
        first, size, chunks = self.delivered, 0, list[pb.Chunk]()
        while self._pending and (not chunks or size + len(self._pending[0].sealed) <= BATCH_BYTES):
            chunk = self._pending.popleft()
            size += len(chunk.sealed)
            chunks.append(chunk)
        self.delivered += len(chunks)
        return Delivered(first, chunks)

    def _ack(self, *, completed: bool) -> None:
        if self.link is not None:
            ack = pb.JobAck(job_id=self.job_id, next_seq=self.delivered, completed=completed)
            self.link.send(pb.MatchmakerFrame(ack=ack))

    async def _wait(self) -> None:
        deadline, code = self.deadline()
        remaining = deadline - self._time()
        self._wake.clear()
        if remaining > 0:
            try:
                await asyncio.wait_for(self._wake.wait(), remaining)
                return
            except TimeoutError:
                pass
        if self.deadline()[0] <= self._time():  # still due after the wait: it has expired
            self.fail(code, _TIMEOUT_MESSAGES[code], provider_fault=True)

    def deadline(self) -> tuple[float, str]:
        if self.link is None:
            assert self.detached_at is not None
            if self.phase < Phase.STREAMING:  # nothing streamed yet: fail over at once
                return self.detached_at, "provider_disconnected"
            return self.detached_at + self._s.resume_grace_s, "resume_expired"
        if self.phase is Phase.SENT:
            return self.sent_at + self._s.accept_timeout_s, "accept_timeout"
        if self.phase is Phase.ACCEPTED:
            return self.last_activity + self._s.first_chunk_timeout_s, "first_chunk_timeout"
        return self.last_activity + self._s.idle_timeout_s, "idle_timeout"

    def cancel(self, reason: str) -> None:
        """The caller is gone or gave up: tell the provider to stop (and not bill)."""
        if not self.done and self.link is not None:
            self.link.send(
                pb.MatchmakerFrame(cancel=pb.CancelJob(job_id=self.job_id, reason=reason))
            )


# Failures that say nothing about the machine (the request or the requester's seal was bad).
REQUEST_FAULTS = frozenset({"undecryptable", "invalid_request", "cancelled", "at_capacity"})

_TIMEOUT_MESSAGES = {
    "provider_disconnected": "the provider disconnected before it sent anything",
    "resume_expired": "the provider did not come back in time to resume the stream",
    "accept_timeout": "the provider did not take the job",
    "first_chunk_timeout": "the provider sent nothing before the first-chunk timeout",
    "idle_timeout": "the provider went silent mid-stream",
}
