"""Stream-resume v1: the sequence-number rules both ends of a provider stream follow.

`next_seq` always means the first chunk sequence the receiving side has NOT accepted yet.
The matchmaker accepts chunks strictly in order; after a provider reconnects, the two sides
agree where to continue and the provider replays the tail from its buffer. These are pure
functions so the matchmaker and the provider agent share one implementation (and one set of
vectors: shared/vectors/stream-resume-vectors.json).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ChunkVerdict(StrEnum):
    ACCEPT = "accept"  # in order: deliver it
    DUPLICATE = "duplicate"  # already delivered (a replay): acknowledge, do not deliver again
    GAP = "gap"  # ahead of the high-water mark: refuse; the sender must replay from next_seq


@dataclass
class ChunkWindow:
    """The receiving side of one session's chunk stream."""

    next_seq: int = 0

    def offer(self, seq: int) -> ChunkVerdict:
        if seq == self.next_seq:
            self.next_seq += 1
            return ChunkVerdict.ACCEPT
        if seq < self.next_seq:
            return ChunkVerdict.DUPLICATE
        return ChunkVerdict.GAP

    def completion_accepted(self, final_seq: int) -> bool:
        """A completion is only final once every chunk before it has arrived."""
        return final_seq == self.next_seq


class ResumeStatus(StrEnum):
    RESUME = "resume"
    REJECTED = "rejected"


@dataclass(frozen=True)
class ResumeDecision:
    status: ResumeStatus
    next_seq: int
    replay: range  # the sequences the provider must send again, in order


def decide_resume(receiver_next_seq: int, produced_seq: int) -> ResumeDecision:
    """Receiver side: a reconnected provider says it produced `produced_seq` chunks."""
    if produced_seq < receiver_next_seq:
        # The provider lost chunks the receiver already delivered: its state is gone.
        return ResumeDecision(ResumeStatus.REJECTED, receiver_next_seq, range(0))
    return ResumeDecision(
        ResumeStatus.RESUME, receiver_next_seq, range(receiver_next_seq, produced_seq)
    )


def provider_accepts_resume(status: ResumeStatus, next_seq: int, produced_seq: int) -> bool:
    """Provider side: keep the job only for a `resume` that asks for chunks it has produced."""
    return status is ResumeStatus.RESUME and 0 <= next_seq <= produced_seq
