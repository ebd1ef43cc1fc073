"""When a job's records go to the outbox: once its stream has ended — never while it streams
(the writes would take the cores from its tokens), also when it fails or its caller leaves
part-way, and not at all when it never streamed (fakes around the real job and real sealed
chunks: the timing is the logic under test)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator
from types import SimpleNamespace
from typing import Any, cast

import pytest

from cocore.crypto import EncryptionKeyPair, SealScheme, open_request, seal_request
from services.gateway.errors import NoProviders, ProviderError
from services.gateway.job import Finished, RunningJob
from services.gateway.matchmaker_client import Chunks, Completed, Event, Failed, Started
from services.gateway.output import Delta

PROVIDER = ("did:plc:bbbbbbbbbbbbbbbbbbbbbbbb", "m1")


class Paid:
    """The parts of PaidPath a running job calls; `record` notes when it was asked."""

    def __init__(self) -> None:
        self.recorded = 0
        self.released: list[str] = []
        self.limiter = SimpleNamespace(record_tokens=lambda *_: None)
        self.keys = SimpleNamespace(spend=lambda *_: None)
        self.settler = SimpleNamespace(submit=self._settle)
        self.exchange = SimpleNamespace(release=self._release)

    def record(self, *_: Any) -> asyncio.Future[None]:
        self.recorded += 1
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    def end_user_tag(self, *_: Any) -> str:
        return ""

    def _settle(self, _job: Any) -> asyncio.Task[None]:
        return asyncio.create_task(asyncio.sleep(0))

    async def _release(self, hold_id: str) -> bool:
        self.released.append(hold_id)
        return True


def job(paid: Paid, script: list[Event | str]) -> RunningJob:
    keypair = EncryptionKeyPair.generate(SealScheme.X25519)
    blob, requester_pub, opener = seal_request(SealScheme.X25519, keypair.public_key_b64, b"in")
    _, sealer = open_request(keypair, requester_pub, blob)
    sealed = [(1, sealer.seal_chunk(text.encode())) for text in ("Hel", "lo")]
    events: list[Event] = []
    for event in script:  # "chunk" placeholders become the next sealed chunk
        events.append(Chunks(len(events) - 1, [sealed.pop(0)]) if isinstance(event, str) else event)

    async def stream() -> AsyncIterator[Event]:
        for event in events:
            yield event

    return RunningJob(
        paid=paid,  # type: ignore[arg-type]
        caller=SimpleNamespace(did="did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", key=SimpleNamespace(id="k")),  # type: ignore[arg-type]
        req=SimpleNamespace(routing=SimpleNamespace(pro_bono=False), user=None),  # type: ignore[arg-type]
        policy=SimpleNamespace(rate=SimpleNamespace(), currency="CC"),  # type: ignore[arg-type]
        records=SimpleNamespace(job=SimpleNamespace(uri="at://j")),  # type: ignore[arg-type]
        openers={PROVIDER: opener}, events=stream(), started_at=time.monotonic(), tpm=0,
    )  # fmt: skip


STARTED = Started(0, *PROVIDER)


def completed(receipt_uri: str) -> Completed:
    return Completed(2, 2, 0, "stop", receipt_uri, "", "")


async def test_records_wait_until_the_stream_has_ended(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("services.gateway.job.rate_price", lambda *_: 5)
    paid = Paid()
    running = job(paid, [STARTED, "chunk", "chunk", completed("at://r")])
    seen = []
    async for item in running.deltas():
        if isinstance(item, Delta):
            seen.append((item.content, paid.recorded))  # what was queued as each token arrived
        else:
            assert isinstance(item, Finished)
    assert seen == [("Hel", 0), ("lo", 0)]
    assert paid.recorded == 1  # once, at the end: the settlement waits on that write
    assert running.recorded is not None and running.settlement is not None


async def test_a_job_that_fails_part_way_is_still_on_record() -> None:
    paid = Paid()
    running = job(paid, [STARTED, "chunk", Failed("provider_lost", "gone")])
    with pytest.raises(ProviderError):
        async for _ in running.deltas():
            pass
    assert paid.recorded == 1


async def test_a_caller_leaving_part_way_leaves_the_job_on_record() -> None:
    paid = Paid()
    running = job(paid, [STARTED, "chunk", "chunk", completed("at://r")])
    deltas = cast(AsyncGenerator[Delta | Finished, None], running.deltas())
    first = await anext(deltas)
    assert isinstance(first, Delta) and paid.recorded == 0
    await deltas.aclose()  # the client went away
    assert paid.recorded == 1


async def test_a_job_refused_before_it_streamed_leaves_nothing_to_publish() -> None:
    paid = Paid()
    running = job(paid, [STARTED, Failed("at_capacity", "busy")])
    with pytest.raises(NoProviders):
        await running.prime()
    assert paid.recorded == 0 and running.recorded is None
