"""Every live job session of this replica, completed-job tombstones, and the resume decision."""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from cocore.proto.matchmaker.v1 import matchmaker_pb2 as pb
from cocore.streamresume import ResumeStatus, decide_resume

from ..pool import ProviderEntry, ProviderKey
from ..settings import JobSettings, StreamSettings
from .session import JobSession, Link


@dataclass(frozen=True, slots=True)
class Tombstone:
    key: ProviderKey
    token: str
    next_seq: int
    completed: bool
    until: float


class SessionTable:
    """Sessions by job id and by machine; `finish` is the one place a session's slot is freed."""

    def __init__(
        self,
        jobs: JobSettings,
        streams: StreamSettings,
        release: Callable[[ProviderEntry], None],
        loop_time: Callable[[], float],
    ) -> None:
        self._jobs = jobs
        self._streams = streams
        self._release = release
        self._time = loop_time
        self.live: dict[str, JobSession] = {}
        self._by_key: dict[ProviderKey, set[JobSession]] = {}
        self._tombstones: OrderedDict[str, Tombstone] = OrderedDict()

    def __len__(self) -> int:
        return len(self.live)

    def open(self, entry: ProviderEntry, link: Link, model: str) -> JobSession:
        """A new session holding one slot of `entry` (the caller already took it)."""
        session = JobSession(
            secrets.token_hex(12), secrets.token_urlsafe(18), entry, model,
            link=link, settings=self._jobs,
            window_chunks=self._streams.window_chunks,
            max_chunk_bytes=self._streams.max_chunk_bytes,
            loop_time=self._time,
        )  # fmt: skip
        self.live[session.job_id] = session
        self._by_key.setdefault(entry.key, set()).add(session)
        return session

    def get(self, job_id: str) -> JobSession | None:
        return self.live.get(job_id)

    def for_key(self, key: ProviderKey) -> list[JobSession]:
        return list(self._by_key.get(key, ()))

    def finish(self, session: JobSession, reason: str) -> None:
        """End a session once: cancel it at the provider if unfinished, free its slot."""
        if self.live.pop(session.job_id, None) is None:
            return
        machines = self._by_key.get(session.entry.key)
        if machines is not None:
            machines.discard(session)
            if not machines:
                del self._by_key[session.entry.key]
        session.cancel(reason)
        self._release(session.entry)
        self._bury(session)

    def _bury(self, session: JobSession) -> None:
        until = self._time() + self._jobs.resume_grace_s
        stone = Tombstone(
            session.entry.key, session.resume_token, session.delivered, session.done, until
        )
        self._tombstones[session.job_id] = stone
        while len(self._tombstones) > self._jobs.tombstones:
            self._tombstones.popitem(last=False)

    def resume(self, link: Link, job_id: str, token: str, produced_seq: int) -> pb.ResumeResult:
        """Fenced by machine and token; a rejected resume makes the provider drop the job."""
        session = self.live.get(job_id)
        if session is None:
            return self._from_tombstone(link, job_id, token)
        if session.entry.key != link.key or not secrets.compare_digest(session.resume_token, token):
            return _result(job_id, pb.RESUME_STATUS_REJECTED, 0, "resume_owner_mismatch")
        decision = decide_resume(session.window.next_seq, produced_seq)
        if decision.status is ResumeStatus.REJECTED:
            session.fail("provider_state_behind", "the provider lost chunks it had sent", True)
            return _result(
                job_id, pb.RESUME_STATUS_REJECTED, decision.next_seq, "provider_state_behind"
            )
        session.attach(link)
        return _result(job_id, pb.RESUME_STATUS_RESUME, decision.next_seq, "")

    def _from_tombstone(self, link: Link, job_id: str, token: str) -> pb.ResumeResult:
        stone = self._tombstones.get(job_id)
        if stone is not None and stone.until < self._time():
            del self._tombstones[job_id]
            stone = None
        if (
            stone is not None
            and stone.completed
            and stone.key == link.key
            and secrets.compare_digest(stone.token, token)
        ):
            return _result(job_id, pb.RESUME_STATUS_COMPLETED, stone.next_seq, "")
        return _result(job_id, pb.RESUME_STATUS_REJECTED, 0, "resume_unknown_or_expired")


_BEHIND = "provider_state_behind"


def _result(job_id: str, status: int, next_seq: int, reason: str) -> pb.ResumeResult:
    return pb.ResumeResult(job_id=job_id, status=status, next_seq=next_seq, reason=reason)  # type: ignore[arg-type]
