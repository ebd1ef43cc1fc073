"""End to end over real gRPC and the real PDS: pick, dispatch, stream, cancel, fail over."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from cocore.crypto import EncryptionKeyPair, SealScheme, SigningKey
from cocore.proto.matchmaker.v1 import matchmaker_pb2 as pb
from cocore.rpc import error_from_rpc
from services.matchmaker.server import MatchmakerService
from services.matchmaker.settings import PoolSettings
from services.provider.link import EchoRunner, ModelSpec, ProBono
from tests.fixtures.atproto import AtprotoStack

from .matchmaker_kit import (
    AUTH,
    Machine,
    Requester,
    eventually,
    make_machine,
    matchmaker_config,
    publish_attestation,
    running_matchmaker,
    slots_in_use,
)

pytestmark = pytest.mark.pds


@pytest.fixture
async def matchmaker(
    atproto_stack: AtprotoStack, tmp_path: Path
) -> AsyncIterator[MatchmakerService]:
    config = matchmaker_config(
        atproto_stack, tmp_path / "mm.sqlite", pool=PoolSettings(failure_threshold=1)
    )
    async with running_matchmaker(config) as service:
        yield service


async def started(machine: Machine) -> Machine:
    machine.start()
    await machine.wait_registered()
    return machine


@pytest.fixture
async def machine(
    atproto_stack: AtprotoStack, matchmaker: MatchmakerService
) -> AsyncIterator[Machine]:
    m = await started(await make_machine(atproto_stack, matchmaker.address))
    yield m
    await m.stop()


def rpc_code(error: grpc.aio.AioRpcError) -> tuple[grpc.StatusCode, str]:
    return error.code(), error_from_rpc(error).code


async def test_sealed_job_streams_back_and_every_chunk_opens(
    matchmaker: MatchmakerService, machine: Machine, requester: Requester
) -> None:
    answer = await requester.run("hello sealed world")
    assert answer.error is None, answer.error
    assert answer.content == "echo: hello sealed world"
    assert answer.completed is not None and answer.completed.final_seq == 4
    assert answer.completed.usage.tokens_out == 4
    assert [s.did for s in answer.started] == [machine.did]
    assert slots_in_use(matchmaker) == 0
    rows = await requester.list_providers()
    assert [(r.did, r.free_slots, r.slots) for r in rows] == [(machine.did, 2, 2)]
    assert rows[0].stats[0].samples == 1  # TTFT measured from the real job
    assert rows[0].trust_level == "self-attested" and rows[0].tier == "best-effort"


async def test_p256_ecies_machine_and_reasoning_channel(
    atproto_stack: AtprotoStack, matchmaker: MatchmakerService, requester: Requester
) -> None:
    m = await make_machine(
        atproto_stack, matchmaker.address, scheme=SealScheme.P256_ECIES_SE,
        runner=lambda kp: EchoRunner(kp, reasoning=True),
    )  # fmt: skip
    await started(m)
    try:
        answer = await requester.run("one two")
        assert answer.reasoning == ["thinking"] and answer.content == "echo: one two"
        assert answer.completed is not None and answer.completed.final_seq == 4
    finally:
        await m.stop()


async def test_unknown_model_and_filters_refuse_with_distinct_codes(
    machine: Machine, requester: Requester
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await requester.pick("no-such-model")
    assert rpc_code(err.value) == (grpc.StatusCode.NOT_FOUND, "no_providers_for_model")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await requester.pick(country="DE")
    assert rpc_code(err.value) == (grpc.StatusCode.UNAVAILABLE, "no_providers_for_country")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await requester.pick(min_version="9.0")
    assert rpc_code(err.value)[1] == "no_providers_for_version"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await requester.pick(min_trust_level="hardware-attested")
    assert rpc_code(err.value)[1] == "no_providers_for_trust_level"


async def test_gateway_calls_need_the_service_credential(
    machine: Machine, requester: Requester
) -> None:
    for metadata in ((), (("authorization", "Bearer wrong"),)):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await requester.stub.Pick(pb.PickRequest(model="tiny-echo"), metadata=metadata)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_seal_to_the_wrong_key_gets_an_explicit_failure_at_once(
    matchmaker: MatchmakerService, machine: Machine, requester: Requester
) -> None:
    picked = await requester.pick()
    candidate = picked.candidates[0]
    stranger = EncryptionKeyPair.generate(SealScheme.X25519).public_key_b64
    candidate.encryption_pub_key = stranger  # the requester seals to a key the machine lacks
    attempts, openers = requester.seal([candidate], "secret")
    answer = await asyncio.wait_for(
        requester.collect(requester.dispatch_call(requester.spec(), attempts), openers), 5
    )
    assert answer.error is not None and answer.error.code == "undecryptable"
    assert answer.completed is None and not answer.text
    # The machine is not blamed for the requester's seal: no cooldown, slots all back.
    assert matchmaker.hub.pool.ledger.cooldown((machine.did, "m1"), 0) is None
    assert (await requester.run("still fine")).content == "echo: still fine"
    assert slots_in_use(matchmaker) == 0


async def test_caller_going_away_cancels_the_job_at_the_provider(
    atproto_stack: AtprotoStack, matchmaker: MatchmakerService, requester: Requester
) -> None:
    m = await make_machine(
        atproto_stack, matchmaker.address, runner=lambda kp: EchoRunner(kp, delay_s=0.2)
    )
    await started(m)
    try:
        picked = await requester.pick()
        attempts, _openers = requester.seal(list(picked.candidates), "a b c d e f g h i j k l")
        call = requester.dispatch_call(requester.spec(), attempts)
        async for event in call:
            if event.WhichOneof("event") == "chunks":
                call.cancel()
                break
        runner = m.runner
        assert isinstance(runner, EchoRunner)
        await eventually(lambda: runner.cancelled == runner.started)
        await eventually(lambda: slots_in_use(matchmaker) == 0 and not m.link.jobs.jobs)
        assert runner.finished == []  # it never ran to the end, so it never billed
    finally:
        await m.stop()


async def test_stalled_provider_times_out_fails_over_and_cools_down(
    atproto_stack: AtprotoStack, matchmaker: MatchmakerService, requester: Requester
) -> None:
    stalled = await started(await make_machine(
        atproto_stack, matchmaker.address, runner=lambda kp: EchoRunner(kp, stall_after=0)
    ))  # fmt: skip
    healthy = await started(await make_machine(atproto_stack, matchmaker.address))
    try:
        first = (await requester.pick(accepted_providers=[stalled.did])).candidates[0]
        second = (await requester.pick(accepted_providers=[healthy.did])).candidates[0]
        attempts, openers = requester.seal([first, second], "fail me over")
        answer = await requester.collect(
            requester.dispatch_call(requester.spec(), attempts), openers
        )
        assert answer.failovers == ["first_chunk_timeout"]
        assert answer.content == "echo: fail me over" and answer.completed is not None
        assert [s.did for s in answer.started] == [stalled.did, healthy.did]
        runner = stalled.runner
        assert isinstance(runner, EchoRunner)
        await eventually(lambda: runner.cancelled == runner.started)  # told to stop
        await eventually(lambda: stalled.link.status.standing == "first_chunk_timeout")
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await requester.pick(accepted_providers=[stalled.did])
        assert rpc_code(err.value)[1] == "providers_cooling_down"
        assert slots_in_use(matchmaker) == 0
    finally:
        await stalled.stop()
        await healthy.stop()


async def test_oversized_input_is_refused_and_nothing_leaks(
    matchmaker: MatchmakerService, machine: Machine, requester: Requester
) -> None:
    picked = await requester.pick()
    attempt = pb.Attempt(
        lease=picked.candidates[0].lease, sealed_input=b"x" * (5 * 1024 * 1024),
        requester_pub_key="k", enc_scheme="x25519",
    )  # fmt: skip
    with pytest.raises(grpc.aio.AioRpcError) as err:
        async for _ in requester.dispatch_call(requester.spec(), [attempt]):
            pass
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    matchmaker.hub.pool.reservations.sweep(float("inf"))  # the unused lease's slot
    assert slots_in_use(matchmaker) == 0
    assert (await requester.run("after")).content == "echo: after"


async def test_drain_finishes_running_jobs_then_leaves_the_pool(
    atproto_stack: AtprotoStack, matchmaker: MatchmakerService, requester: Requester
) -> None:
    m = await started(await make_machine(
        atproto_stack, matchmaker.address, runner=lambda kp: EchoRunner(kp, delay_s=0.05)
    ))  # fmt: skip
    job = asyncio.create_task(requester.run("one two three four five six"))
    await eventually(lambda: bool(m.link.jobs.jobs))
    await m.link.drain(timeout_s=10)
    answer = await job
    assert answer.content == "echo: one two three four five six" and answer.completed is not None
    await m.stop()
    await eventually(lambda: len(matchmaker.hub.pool) == 0)
    assert slots_in_use(matchmaker) == 0


async def test_renewed_attestation_and_live_facts_reach_routing(
    matchmaker: MatchmakerService, machine: Machine, requester: Requester
) -> None:
    # Beats reference weak spot 1: a renewed attestation is announced, not left stale.
    renewed = await publish_attestation(machine.client, machine.key, machine.keypair)
    machine.link.update_attestation(renewed)
    await eventually(
        lambda: (
            matchmaker.hub.pool.get((machine.did, "m1")).identity.attestation.uri  # type: ignore[union-attr]
            == renewed.uri
        )
    )
    candidate = (await requester.pick()).candidates[0]
    assert (candidate.attestation.uri, candidate.attestation.cid) == (renewed.uri, renewed.cid)
    assert not candidate.pro_bono
    # Models loaded and the pro-bono election change live (no restart, no stale routing).
    machine.link.update_provider(
        models=(ModelSpec("other-model", 2048, tools=True),),
        pro_bono=ProBono("direct", (requester.did,)),
    )
    await eventually(lambda: "other-model" in matchmaker.hub.pool.get((machine.did, "m1")).models)  # type: ignore[union-attr]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await requester.pick()
    assert rpc_code(err.value)[1] == "no_providers_for_model"
    bono = (await requester.pick("other-model", pro_bono=True, needs_tools=True)).candidates[0]
    assert bono.pro_bono and bono.did == machine.did


async def test_a_forged_attestation_update_ends_the_stream(
    atproto_stack: AtprotoStack, matchmaker: MatchmakerService, machine: Machine
) -> None:
    other = SigningKey.generate()  # a record this machine's key never signed
    forged = await publish_attestation(machine.client, other, machine.keypair)
    machine.link.update_attestation(forged)
    await eventually(lambda: machine.link.status.last_error == "attestation_key_mismatch")


async def test_a_picked_slot_is_given_back_with_release_lease(
    matchmaker: MatchmakerService, machine: Machine, requester: Requester
) -> None:
    picked = await requester.pick()
    lease = picked.candidates[0].lease
    assert slots_in_use(matchmaker) == 1
    released = await requester.stub.ReleaseLease(pb.ReleaseLeaseRequest(lease=lease), metadata=AUTH)
    assert released.released and slots_in_use(matchmaker) == 0
    again = await requester.stub.ReleaseLease(pb.ReleaseLeaseRequest(lease=lease), metadata=AUTH)
    assert not again.released and slots_in_use(matchmaker) == 0  # idempotent, never negative
    with pytest.raises(grpc.aio.AioRpcError) as forged:
        await requester.stub.ReleaseLease(pb.ReleaseLeaseRequest(lease=lease[:-4] + "AAAA"),
                                          metadata=AUTH)  # fmt: skip
    assert forged.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as anonymous:
        await requester.stub.ReleaseLease(pb.ReleaseLeaseRequest(lease=lease))
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
