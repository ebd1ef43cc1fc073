"""Provider connection drops mid-stream: the job resumes within the window, or fails cleanly."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from cocore.proto.matchmaker.v1 import matchmaker_pb2 as pb
from services.matchmaker.server import MatchmakerService
from services.provider.link import EchoRunner
from tests.fixtures.atproto import AtprotoStack

from .matchmaker_kit import (
    Machine,
    Proxy,
    Requester,
    eventually,
    make_machine,
    slots_in_use,
)

pytestmark = pytest.mark.pds
WORDS = " ".join(f"w{i}" for i in range(30))


@pytest.fixture
async def proxy(matchmaker: MatchmakerService) -> AsyncIterator[Proxy]:
    p = await Proxy(matchmaker.address).start()
    yield p
    await p.aclose()


@pytest.fixture
async def flaky(atproto_stack: AtprotoStack, proxy: Proxy) -> AsyncIterator[Machine]:
    """A machine whose connection goes through the proxy, answering slowly."""
    m = await make_machine(
        atproto_stack, proxy.address, runner=lambda kp: EchoRunner(kp, delay_s=0.03)
    )
    m.start()
    await m.wait_registered()
    yield m
    await m.stop()


def cut_after(proxy: Proxy, seq: int, times: int = 1) -> Callable[[pb.DispatchEvent], None]:
    cuts = {"left": times}

    def on_event(event: pb.DispatchEvent) -> None:
        chunks = event.chunks
        if event.WhichOneof("event") == "chunks" and chunks.first_seq >= seq and cuts["left"]:
            cuts["left"] -= 1
            proxy.sever()

    return on_event


async def test_a_dropped_stream_resumes_and_the_answer_is_whole(
    matchmaker: MatchmakerService, proxy: Proxy, flaky: Machine, requester: Requester
) -> None:
    answer = await requester.run(WORDS, on_event=cut_after(proxy, 5))
    assert answer.error is None, answer.error
    assert proxy.connections >= 2  # it really reconnected
    assert answer.content == "echo: " + WORDS
    assert sorted(answer.text) == list(range(31))  # every seq exactly once, none duplicated
    runner = flaky.runner
    assert isinstance(runner, EchoRunner)
    assert len(runner.started) == 1  # the engine ran once: the tail was replayed, not redone
    assert answer.completed is not None and answer.completed.final_seq == 31
    (delivery,) = runner.deliveries.values()
    assert await delivery is True
    await eventually(lambda: slots_in_use(matchmaker) == 0 and not flaky.link.jobs.jobs)


async def test_two_drops_in_one_job_still_resume(
    proxy: Proxy, flaky: Machine, requester: Requester
) -> None:
    answer = await requester.run(WORDS, on_event=cut_after(proxy, 3, times=2))
    assert answer.content == "echo: " + WORDS and answer.completed is not None
    assert proxy.connections >= 3


async def test_no_comeback_within_the_grace_fails_cleanly_and_the_next_job_goes_elsewhere(
    atproto_stack: AtprotoStack,
    matchmaker: MatchmakerService,
    proxy: Proxy,
    flaky: Machine,
    requester: Requester,
) -> None:
    def block_after_cut(event: pb.DispatchEvent) -> None:
        if event.WhichOneof("event") == "chunks" and not proxy.blocked:
            proxy.blocked = True  # no reconnect gets through
            proxy.sever()

    answer = await requester.run(WORDS, on_event=block_after_cut)
    assert answer.error is not None and answer.error.code == "resume_expired"
    assert answer.completed is None
    other = await make_machine(atproto_stack, matchmaker.address)
    other.start()
    await other.wait_registered()
    try:
        nxt = await requester.run("next one")
        assert nxt.content == "echo: next one" and nxt.started[0].did == other.did
        proxy.blocked = False  # the flaky machine comes back: its stale job is rejected
        await flaky.wait_registered()
        runner = flaky.runner
        assert isinstance(runner, EchoRunner)
        await eventually(lambda: not flaky.link.jobs.jobs)
        # Its answer never reached the requester: the agent must not bill for it.
        (delivery,) = runner.deliveries.values()
        assert delivery.done() and delivery.result() is False
        await eventually(lambda: slots_in_use(matchmaker) == 0)
    finally:
        await other.stop()
