"""A job's output: numbered sealed chunks kept until acknowledged, replayable after a resume.

`emit` waits (backpressure to the engine) while the job has a full window of unacknowledged
chunks, or the link's whole replay budget is used: memory stays bounded however slow the
caller or however long the matchmaker is out of reach.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from cocore.proto.matchmaker.v1 import matchmaker_pb2 as pb

from .types import Channel, JobCancelled, JobFailure


@dataclass(frozen=True, slots=True)
class OutputLimits:
    window_chunks: int = 256  # the matchmaker's Registered value replaces this
    max_chunk_bytes: int = 256 * 1024
    max_job_bytes: int = 8 * 1024 * 1024  # unacknowledged bytes of one job
    batch_bytes: int = 512 * 1024  # chunks per JobChunks frame


class ReplayBudget:
    """Unacknowledged bytes across every job of the link (one slow job cannot starve others)."""

    def __init__(self, capacity: int, on_free: Callable[[], None]) -> None:
        self.capacity = capacity
        self.used = 0
        self._on_free = on_free

    def fits(self, size: int) -> bool:
        return self.used + size <= self.capacity

    def take(self, size: int) -> None:
        self.used += size

    def give(self, size: int) -> None:
        if size:
            was_full = self.used > self.capacity // 2
            self.used -= size
            if was_full:
                self._on_free()


class JobOutput:
    """Handed to the runner: `await emit(channel, sealed_bytes)` returns the chunk's seq."""

    def __init__(
        self, job_id: str, limits: OutputLimits, budget: ReplayBudget, notify: Callable[[], None]
    ) -> None:
        self.job_id = job_id
        self.limits = limits
        self._budget = budget
        self._notify = notify
        self._chunks: deque[pb.Chunk] = deque()  # seqs acked .. produced-1
        self.acked = self.sent = self.produced = 0
        self._bytes = 0
        self.attached = False
        self.ending: pb.ProviderFrame | None = None  # the JobComplete or JobFailed frame
        self.ending_sent = False
        self._space = asyncio.Event()
        self._cancelled = threading.Event()  # readable from engine threads
        # True once the requester got the whole answer (the completion was acknowledged);
        # False if the job was cancelled, rejected on resume or abandoned. Publish the
        # receipt only after True, and nobody is billed for an answer they never received.
        self.delivery: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.last_emit_at = time.monotonic()

    # ------------------------------------------------------------ runner side

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    async def emit(self, channel: Channel, sealed: bytes) -> int:
        """Queue one sealed chunk; waits while the window or replay budget is full."""
        size = len(sealed)
        if size > self.limits.max_chunk_bytes:
            raise JobFailure(
                "chunk_too_large", f"a sealed chunk is over {self.limits.max_chunk_bytes} bytes"
            )
        while not self._has_room(size):
            self._space.clear()
            await self._space.wait()
        if self.cancelled:
            raise JobCancelled(self.job_id)
        self._chunks.append(pb.Chunk(channel=int(channel), sealed=sealed))  # type: ignore[arg-type]
        self._bytes += size
        self._budget.take(size)
        self.produced += 1
        self.last_emit_at = time.monotonic()
        self._notify()
        return self.produced - 1

    def _has_room(self, size: int) -> bool:
        if self.cancelled:
            return True  # let emit raise
        unacked = self.produced - self.acked
        if unacked == 0:
            return True  # an empty buffer always takes one chunk (no deadlock on a huge one)
        return (
            unacked < self.limits.window_chunks
            and self._bytes + size <= self.limits.max_job_bytes
            and self._budget.fits(size)
        )

    # ------------------------------------------------------------ link side

    def wake(self) -> None:
        self._space.set()

    def cancel(self) -> None:
        self._cancelled.set()
        self._space.set()

    def finish(self, frame: pb.ProviderFrame) -> None:
        self.ending = frame
        self._notify()

    def pull(self) -> pb.ProviderFrame | None:
        """The next frame to write on the current stream (chunks, then the ending), or None."""
        if not self.attached:
            return None
        if self.sent < self.produced:
            return self._pull_chunks()
        if self.ending is not None and not self.ending_sent:
            self.ending_sent = True
            return self.ending
        return None

    def _pull_chunks(self) -> pb.ProviderFrame:
        first, size = self.sent, 0
        batch: list[pb.Chunk] = []
        for chunk in itertools.islice(self._chunks, first - self.acked, None):
            if batch and size + len(chunk.sealed) > self.limits.batch_bytes:
                break
            batch.append(chunk)
            size += len(chunk.sealed)
        self.sent += len(batch)
        frames = pb.JobChunks(job_id=self.job_id, first_seq=first, chunks=batch)
        return pb.ProviderFrame(chunks=frames)

    def ack(self, next_seq: int) -> bool:
        """Drop chunks below `next_seq`; False when the ack is impossible (a protocol error)."""
        if not self.acked <= next_seq <= self.produced:
            return False
        freed = 0
        for _ in range(next_seq - self.acked):
            freed += len(self._chunks.popleft().sealed)
        self._bytes -= freed
        self._budget.give(freed)
        self.acked = next_seq
        self.sent = max(self.sent, next_seq)
        self._space.set()
        return True

    def resume_from(self, next_seq: int) -> bool:
        """After a reconnect: replay from `next_seq` (which must still be buffered)."""
        if not self.acked <= next_seq <= self.produced:
            return False
        self.sent, self.ending_sent, self.attached = next_seq, False, True
        self._notify()
        return True

    def release(self, delivered: bool) -> None:
        """The job is gone: settle `delivery` and return its bytes to the budget."""
        if not self.delivery.done():
            self.delivery.set_result(delivered)
        self._budget.give(self._bytes)
        self._bytes = 0
        self._chunks.clear()
