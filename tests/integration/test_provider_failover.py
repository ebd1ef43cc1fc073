"""A provider that drops off mid-stream: a network drop resumes within the window (the same
answer, one receipt); a killed provider fails the job cleanly and the next job goes elsewhere."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from cocore.proto.matchmaker.v1 import matchmaker_pb2 as pb
from services.provider.agent import Agent
from services.provider.models import TINY_ID
from tests.fixtures.atproto import AtprotoStack

from .matchmaker_kit import Answer, Proxy, matchmaker_config, running_matchmaker
from .provider_kit import PayingRequester, provider_home, publish_policy, running_agent
from .test_provider_serving import envelope, reference_answer, wait_receipt

pytestmark = [pytest.mark.pds, pytest.mark.slow]
SAMPLING = {"temperature": 0.9, "top_p": 0.95, "seed": 11}


@pytest.fixture(scope="module")
async def world(
    atproto_stack: AtprotoStack, tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("provider-failover")
    exchange = await publish_policy(atproto_stack)
    async with running_matchmaker(matchmaker_config(atproto_stack, tmp / "mm.sqlite")) as mm:
        proxy = await Proxy(mm.address).start()
        account = await atproto_stack.create_account()
        config = provider_home(
            tmp / "near", atproto_stack, account, exchange_did=str(exchange.did),
            matchmaker=proxy.address, models_dir=tiny_model_dir.parent,
        )  # fmt: skip
        agent = await running_agent(config)
        requester = PayingRequester(
            mm.address, (await atproto_stack.create_account()).client, str(exchange.did)
        )
        try:
            yield {"mm": mm, "proxy": proxy, "agent": agent, "requester": requester,
                   "stack": atproto_stack, "tmp": tmp, "exchange": exchange,
                   "models": tiny_model_dir.parent}  # fmt: skip
        finally:
            await requester.aclose()
            await agent.stop()
            await proxy.aclose()


def spec_for(requester: PayingRequester, job: Any) -> pb.JobSpec:
    spec = requester.job_spec(job, temperature_milli=900)
    spec.sampling.top_p_milli, spec.sampling.seed = 950, 11
    return spec


async def test_a_network_drop_mid_stream_resumes_with_the_same_answer(
    world: dict[str, Any], tiny_model_dir: Path
) -> None:
    requester: PayingRequester = world["requester"]
    proxy: Proxy = world["proxy"]
    agent: Agent = world["agent"]
    job = await requester.publish_job(envelope(), TINY_ID, max_tokens=400)
    picked = await requester.pick(TINY_ID)
    attempts, openers = requester.seal_for(list(picked.candidates), job.plaintext)
    severed = False

    def drop_once(event: pb.DispatchEvent) -> None:
        nonlocal severed
        if event.WhichOneof("event") == "chunks" and not severed:
            severed = True
            proxy.sever()  # the provider's connection to the matchmaker drops

    answer = await requester.collect(
        requester.dispatch_call(spec_for(requester, job), attempts), openers, drop_once
    )
    assert severed and proxy.connections >= 2  # it reconnected
    assert answer.error is None, answer.error
    assert answer.content == await reference_answer(tiny_model_dir, 400, **SAMPLING)
    assert answer.completed is not None
    await wait_receipt(world["stack"].anonymous(), answer.completed.receipt.uri)
    assert agent.link.status.connected


async def test_a_killed_provider_fails_cleanly_and_the_next_job_goes_elsewhere(
    world: dict[str, Any],
) -> None:
    requester: PayingRequester = world["requester"]
    near: Agent = world["agent"]
    stack: AtprotoStack = world["stack"]
    account = await stack.create_account()
    provider_home(
        world["tmp"] / "far", stack, account, exchange_did=str(world["exchange"].did),
        matchmaker=world["mm"].address, models_dir=world["models"],
    )  # fmt: skip
    far_did = str(account.client.did)
    log = (world["tmp"] / "far.log").open("w")
    env = {**os.environ, "COCORE_PROVIDER_HOME": str(world["tmp"] / "far")}
    far = subprocess.Popen(  # the real CLI, in its own process
        [str(Path(sys.executable).parent / "cocore-provider"), "serve"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        await wait_for_provider(requester, far_did)
        job = await requester.publish_job(envelope(), TINY_ID, max_tokens=4000)
        picked = await requester.pick(TINY_ID, accepted_providers=[far_did])
        attempts, openers = requester.seal_for(list(picked.candidates), job.plaintext)

        def kill_on_first_chunk(event: pb.DispatchEvent) -> None:
            if event.WhichOneof("event") == "chunks" and far.poll() is None:
                far.send_signal(signal.SIGKILL)

        answer = await requester.collect(
            requester.dispatch_call(spec_for(requester, job), attempts), openers,
            kill_on_first_chunk,
        )  # fmt: skip
        assert far.wait(10) == -signal.SIGKILL
        assert answer.completed is None and answer.error is not None
        assert answer.error.code in ("resume_expired", "provider_disconnected"), answer.error

        second = await requester.publish_job(envelope(), TINY_ID, max_tokens=6)
        retry: Answer = await requester.ask(second, max_candidates=2)
        assert retry.completed is not None, retry.error
        assert retry.started[-1].did == str(near.client.did)
    finally:
        if far.poll() is None:
            far.kill()
        far.wait(10)
        log.close()


async def wait_for_provider(requester: PayingRequester, did: str) -> None:
    async with asyncio.timeout(60):
        while did not in [p.did for p in await requester.list_providers()]:
            await asyncio.sleep(0.2)
