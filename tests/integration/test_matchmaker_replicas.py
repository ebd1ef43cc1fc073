"""Two matchmaker replicas share a directory: picks see both, dispatches are forwarded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.matchmaker.server import MatchmakerService
from services.provider.link import EchoRunner
from tests.fixtures.atproto import AtprotoStack

from .matchmaker_kit import (
    Requester,
    eventually,
    make_machine,
    matchmaker_config,
    running_matchmaker,
    slots_in_use,
)

pytestmark = pytest.mark.pds


@pytest.fixture
async def replicas(
    atproto_stack: AtprotoStack, tmp_path: Path
) -> AsyncIterator[tuple[MatchmakerService, MatchmakerService]]:
    db = tmp_path / "directory.sqlite"
    async with (
        running_matchmaker(matchmaker_config(atproto_stack, db, replica_id="mm-a")) as a,
        running_matchmaker(matchmaker_config(atproto_stack, db, replica_id="mm-b")) as b,
    ):
        yield a, b


def knows(service: MatchmakerService, did: str, *, remote: bool) -> bool:
    return any(e.did == did and e.remote == remote for e in service.hub.pool.entries())


async def test_a_dispatch_on_the_other_replica_is_forwarded_to_the_owner(
    atproto_stack: AtprotoStack, replicas: tuple[MatchmakerService, MatchmakerService]
) -> None:
    a, b = replicas
    m = await make_machine(atproto_stack, a.address, runner=lambda kp: EchoRunner(kp, delay_s=0.02))
    m.start()
    await m.wait_registered()
    requester = Requester(b.address)
    try:
        await eventually(lambda: knows(b, m.did, remote=True))
        (row,) = await requester.list_providers()
        assert row.remote and row.replica_id == "mm-a"
        answer = await requester.run("across replicas")
        assert answer.content == "echo: across replicas" and answer.completed is not None
        assert b.hub.events.registry.get_sample_value("cocore_matchmaker_forwarded_total") == 1
        await eventually(lambda: slots_in_use(a) == 0)

        # The caller going away on b cancels the job on a, and at the provider.
        picked = await requester.pick()
        attempts, _ = requester.seal(list(picked.candidates), " ".join(["w"] * 40))
        call = requester.dispatch_call(requester.spec(), attempts)
        async for event in call:
            if event.WhichOneof("event") == "chunks":
                call.cancel()
                break
        runner = m.runner
        assert isinstance(runner, EchoRunner)
        await eventually(lambda: len(runner.cancelled) == 1)
        await eventually(lambda: slots_in_use(a) == 0 and not m.link.jobs.jobs)
    finally:
        await requester.aclose()
        await m.stop()


async def test_a_machine_that_moves_replica_is_followed(
    atproto_stack: AtprotoStack, replicas: tuple[MatchmakerService, MatchmakerService]
) -> None:
    a, b = replicas
    first = await make_machine(atproto_stack, a.address)
    first.start()
    await first.wait_registered()
    await eventually(lambda: knows(b, first.did, remote=True))
    await first.stop()
    # The same machine (same account and machine id) now connects to b.
    moved = await make_machine(atproto_stack, b.address, client=first.client)
    moved.start()
    await moved.wait_registered()
    requester = Requester(a.address)
    try:
        await eventually(
            lambda: knows(a, moved.did, remote=True) and not knows(a, moved.did, remote=False)
        )
        answer = await requester.run("follow me")
        assert answer.content == "echo: follow me" and answer.started[0].did == moved.did
    finally:
        await requester.aclose()
        await moved.stop()
    await eventually(lambda: not knows(a, moved.did, remote=True))  # it left: a forgets it
