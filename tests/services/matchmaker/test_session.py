"""JobSession and SessionTable: in-order delivery, acks, timers, resume fencing, tombstones."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cocore.proto.matchmaker.v1 import matchmaker_pb2 as pb
from services.matchmaker.settings import JobSettings, StreamSettings
from services.matchmaker.streams.session import Accepted, Delivered, JobFailure, JobSession
from services.matchmaker.streams.sessions import SessionTable
from tests.conftest import load_vector

from .poolkit import machine

VECTORS = load_vector("stream-resume-vectors.json")
FAST = JobSettings(accept_timeout_s=0.05, first_chunk_timeout_s=0.05, idle_timeout_s=0.05,
                   resume_grace_s=0.1)  # fmt: skip


class FakeLink:
    def __init__(self, key: tuple[str, str]) -> None:
        self.key: tuple[str, str] | None = key
        self.sent: list[pb.MatchmakerFrame] = []

    def send(self, frame: pb.MatchmakerFrame) -> bool:
        self.sent.append(frame)
        return True

    def kinds(self) -> list[str]:
        return [str(f.WhichOneof("frame")) for f in self.sent]


def table(jobs: JobSettings = FAST, window: int = 4) -> tuple[SessionTable, list[object]]:
    released: list[object] = []
    loop = asyncio.get_running_loop()
    return SessionTable(
        jobs, StreamSettings(window_chunks=window), released.append, loop.time
    ), released


def chunk(text: bytes, channel: int = pb.CHANNEL_CONTENT) -> pb.Chunk:
    return pb.Chunk(channel=channel, sealed=text)  # type: ignore[arg-type]


async def drain(session: JobSession, until: int) -> list[object]:
    items: list[object] = []
    async for item in session.deliveries():
        items.append(item)
        if len(items) >= until:
            break
    return items


async def test_chunks_are_delivered_in_order_and_acked_after_delivery() -> None:
    sessions, released = table()
    entry = machine("did:plc:a")
    link = FakeLink(entry.key)
    s = sessions.open(entry, link, "tiny")
    s.on_accepted()
    s.on_chunks(0, [chunk(b"a"), chunk(b"b")])
    s.on_chunks(2, [chunk(b"c")])
    s.on_complete(pb.JobComplete(job_id=s.job_id, final_seq=3))
    items = [item async for item in s.deliveries()]
    assert isinstance(items[0], Accepted)
    assert isinstance(items[1], Delivered) and items[1].first_seq == 0 and len(items[1].chunks) == 3
    assert isinstance(items[2], pb.JobComplete)
    acks = [f.ack for f in link.sent if f.WhichOneof("frame") == "ack"]
    assert [(a.next_seq, a.completed) for a in acks] == [(3, False), (3, True)]
    sessions.finish(s, "completed")
    assert released == [entry] and "cancel" not in link.kinds()  # done: nothing to cancel


@pytest.mark.parametrize(
    ("first", "then", "code"),
    [
        ((0, b"a"), (0, b"DIFFERENT"), "resume_sequence_conflict"),
        ((0, b"a"), (5, b"x"), "sequence_gap"),
    ],
)
async def test_sequence_violations_fail_the_job(
    first: tuple[int, bytes], then: tuple[int, bytes], code: str
) -> None:
    sessions, _ = table()
    entry = machine("did:plc:a")
    s = sessions.open(entry, FakeLink(entry.key), "tiny")
    s.on_chunks(first[0], [chunk(first[1])])
    s.on_chunks(then[0], [chunk(then[1])])
    with pytest.raises(JobFailure) as err:
        await drain(s, 10)
    assert err.value.code == code and err.value.provider_fault


async def test_a_replayed_duplicate_is_ignored() -> None:
    sessions, _ = table()
    entry = machine("did:plc:a")
    s = sessions.open(entry, FakeLink(entry.key), "tiny")
    s.on_chunks(0, [chunk(b"a")])
    s.on_chunks(0, [chunk(b"a"), chunk(b"b")])
    assert s.window.next_seq == 2 and s.failure is None


async def test_completion_must_match_the_chunks() -> None:
    sessions, _ = table()
    entry = machine("did:plc:a")
    s = sessions.open(entry, FakeLink(entry.key), "tiny")
    s.on_chunks(0, [chunk(b"a")])
    s.on_complete(pb.JobComplete(job_id=s.job_id, final_seq=2))
    assert s.failure is not None and s.failure.code == "sequence_violation"


async def test_window_overrun_and_oversized_chunks_fail() -> None:
    sessions, _ = table(window=2)
    entry = machine("did:plc:a")
    s = sessions.open(entry, FakeLink(entry.key), "tiny")
    s.on_chunks(0, [chunk(b"a"), chunk(b"b"), chunk(b"c")])
    assert s.failure is not None and s.failure.code == "window_exceeded"
    big = sessions.open(entry, FakeLink(entry.key), "tiny")
    big.on_chunks(0, [chunk(b"x" * (StreamSettings().max_chunk_bytes + 1))])
    assert big.failure is not None and big.failure.code == "chunk_too_large"


@pytest.mark.parametrize(
    ("setup", "code"),
    [("nothing", "accept_timeout"), ("accepted", "first_chunk_timeout"),
     ("streaming", "idle_timeout"), ("detached_early", "provider_disconnected"),
     ("detached_late", "resume_expired")],
)  # fmt: skip
async def test_each_phase_has_its_own_timeout(setup: str, code: str) -> None:
    sessions, _ = table()
    entry = machine("did:plc:a")
    s = sessions.open(entry, FakeLink(entry.key), "tiny")
    if setup != "nothing":
        s.on_accepted()
    if setup in ("streaming", "detached_late"):
        s.on_chunks(0, [chunk(b"a")])
    if setup.startswith("detached"):
        s.detach()
    with pytest.raises(JobFailure) as err:
        await asyncio.wait_for(drain(s, 10), 2)
    assert err.value.code == code


async def test_keepalives_hold_off_the_idle_timer() -> None:
    sessions, _ = table()
    entry = machine("did:plc:a")
    s = sessions.open(entry, FakeLink(entry.key), "tiny")
    s.on_accepted()

    async def keep_alive() -> None:
        for _ in range(6):
            await asyncio.sleep(0.02)
            s.on_keepalive()
        s.on_complete(pb.JobComplete(job_id=s.job_id, final_seq=0))

    task = asyncio.ensure_future(keep_alive())
    items = [item async for item in s.deliveries()]
    await task
    assert isinstance(items[-1], pb.JobComplete)  # 0.12 s alive with a 0.05 s timer


async def test_resume_is_fenced_by_machine_and_token_then_follows_the_vectors() -> None:
    sessions, _ = table()
    entry = machine("did:plc:a")
    old = FakeLink(entry.key)
    s = sessions.open(entry, old, "tiny")
    s.on_chunks(0, [chunk(b"a")])
    s.detach()
    stranger = FakeLink(("did:plc:b", "m1"))
    rejected = sessions.resume(stranger, s.job_id, s.resume_token, 5)
    assert (rejected.status, rejected.reason) == (
        pb.RESUME_STATUS_REJECTED,
        "resume_owner_mismatch",
    )
    new = FakeLink(entry.key)
    wrong = sessions.resume(new, s.job_id, "not-the-token", 5)
    assert wrong.reason == "resume_owner_mismatch" and s.link is None  # grace not consumed
    ok = sessions.resume(new, s.job_id, s.resume_token, 3)
    assert (ok.status, ok.next_seq) == (pb.RESUME_STATUS_RESUME, 1) and s.link is new


@pytest.mark.parametrize("case", [c for c in VECTORS["resume"] if "advisorNextSeq" in c],
                         ids=lambda c: c["name"])  # fmt: skip
async def test_resume_vectors_on_the_matchmaker_side(case: dict[str, Any]) -> None:
    sessions, _ = table(window=16)
    entry = machine("did:plc:a")
    s = sessions.open(entry, FakeLink(entry.key), "tiny")
    s.on_chunks(0, [chunk(bytes([i])) for i in range(case["advisorNextSeq"])])
    result = sessions.resume(FakeLink(entry.key), s.job_id, s.resume_token, case["producedSeq"])
    expected = pb.RESUME_STATUS_RESUME if case["status"] == "resume" else pb.RESUME_STATUS_REJECTED
    assert (result.status, result.next_seq) == (expected, case["nextSeq"])


async def test_tombstones_answer_completed_only_for_delivered_jobs() -> None:
    sessions, _ = table()
    entry = machine("did:plc:a")
    link = FakeLink(entry.key)
    done = sessions.open(entry, link, "tiny")
    done.on_complete(pb.JobComplete(job_id=done.job_id, final_seq=0))
    _ = [item async for item in done.deliveries()]
    sessions.finish(done, "completed")
    result = sessions.resume(FakeLink(entry.key), done.job_id, done.resume_token, 0)
    assert result.status == pb.RESUME_STATUS_COMPLETED
    failed = sessions.open(entry, link, "tiny")
    sessions.finish(failed, "idle_timeout")
    assert link.kinds()[-1] == "cancel"  # an unfinished job is cancelled at the provider
    again = sessions.resume(FakeLink(entry.key), failed.job_id, failed.resume_token, 0)
    assert (again.status, again.reason) == (pb.RESUME_STATUS_REJECTED, "resume_unknown_or_expired")
