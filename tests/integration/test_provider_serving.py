"""The provider agent end to end: the real tiny model, the real matchmaker over gRPC, the real
PDS. A requester publishes its job, seals, dispatches and opens every chunk; the receipt lands
on the provider's PDS and `cocore verify receipt` accepts it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from cocore.atproto import AtprotoClient
from cocore.canonical import canonicalize
from cocore.crypto import EncryptionKeyPair, SealScheme, output_commitment
from cocore.lexicon import ids
from cocore.proto.matchmaker.v1 import matchmaker_pb2 as pb
from cocore.syntax import parse_at_uri
from services.provider.agent import Agent
from services.provider.engine import (
    Delta,
    EngineConfig,
    Finish,
    GenerationRequest,
    ModelSpec,
    load_engine,
)
from services.provider.models import TINY_ID
from tests.fixtures.atproto import AtprotoStack

from .matchmaker_kit import eventually, matchmaker_config, running_matchmaker
from .provider_kit import Job, PayingRequester, provider_home, publish_policy, running_agent

pytestmark = [pytest.mark.pds, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
MESSAGES = [
    {"content": "You are terse.", "role": "system"},
    {"content": "Name three colours.", "role": "user"},
]


@pytest.fixture(scope="module")
async def world(
    atproto_stack: AtprotoStack, tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, Any]]:
    """One matchmaker, one exchange policy, one serving agent, one requester (module-wide:
    loading the model and publishing records once keeps the suite fast)."""
    tmp = tmp_path_factory.mktemp("provider-e2e")
    exchange = await publish_policy(atproto_stack, token_rate_in_per_mtok=1_000_000,
                                    token_rate_out_per_mtok=2_000_000)  # fmt: skip
    async with running_matchmaker(matchmaker_config(atproto_stack, tmp / "mm.sqlite")) as mm:
        account = await atproto_stack.create_account()
        config = provider_home(
            tmp / "home", atproto_stack, account, exchange_did=str(exchange.did),
            matchmaker=mm.address, models_dir=tiny_model_dir.parent,
        )  # fmt: skip
        agent = await running_agent(config)
        requester_client = (await atproto_stack.create_account()).client
        requester = PayingRequester(mm.address, requester_client, str(exchange.did))
        try:
            yield {"mm": mm, "agent": agent, "requester": requester, "exchange": exchange,
                   "stack": atproto_stack, "tmp": tmp, "account": account}  # fmt: skip
        finally:
            await requester.aclose()
            await agent.stop()


async def reference_answer(model_dir: Path, max_tokens: int, **sampling: Any) -> str:
    """The same request straight to a freshly loaded engine."""
    engine = await load_engine(EngineConfig((ModelSpec(TINY_ID, model_dir, slots=1),)))
    try:
        request = GenerationRequest(TINY_ID, messages=MESSAGES, max_tokens=max_tokens, **sampling)
        parts = []
        async with engine.generate(request) as stream:
            async for item in stream:
                if isinstance(item, Delta) and item.channel == "content":
                    parts.append(item.text)
                assert not isinstance(item, Finish) or item.ok
        return "".join(parts)
    finally:
        await engine.stop()


def envelope() -> bytes:
    return canonicalize({"messages": MESSAGES, "v": 1})


async def fetch(client: AtprotoClient, uri: str) -> tuple[dict[str, Any], str]:
    at = parse_at_uri(uri)
    view = await client.get_record(at.repo, at.collection, at.rkey)
    return view.value, str(view.cid)


def cocore_verify(bundle: dict[str, Any], tmp: Path) -> tuple[int, dict[str, Any]]:
    path = tmp / "bundle.json"
    path.write_text(json.dumps(bundle))
    done = subprocess.run(
        [str(Path(sys.executable).parent / "cocore"), "verify", "receipt", str(path)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    return done.returncode, json.loads(done.stdout)


async def wait_receipt(client: AtprotoClient, uri: str) -> tuple[dict[str, Any], str]:
    async with asyncio.timeout(20):
        while True:
            try:
                return await fetch(client, uri)
            except Exception:  # noqa: BLE001 - not published yet
                await asyncio.sleep(0.1)


async def test_sealed_job_streams_a_deterministic_answer_with_a_verifiable_receipt(
    world: dict[str, Any], tiny_model_dir: Path
) -> None:
    requester: PayingRequester = world["requester"]
    agent: Agent = world["agent"]
    job: Job = await requester.publish_job(envelope(), TINY_ID, max_tokens=24)
    spec = requester.job_spec(job, temperature_milli=800)
    spec.sampling.top_p_milli, spec.sampling.seed = 900, 42
    picked = await requester.pick(TINY_ID)
    attempts, openers = requester.seal_for(list(picked.candidates), job.plaintext)
    answer = await requester.collect(requester.dispatch_call(spec, attempts), openers)
    assert answer.error is None, answer.error
    expected = await reference_answer(tiny_model_dir, 24, temperature=0.8, top_p=0.9, seed=42)
    assert len(set(expected)) > 3 and answer.content == expected
    done = answer.completed
    assert done is not None and done.receipt.uri
    assert done.commitments.output == output_commitment([expected])
    assert done.final_seq < done.usage.tokens_out  # coalesced: fewer chunks than tokens

    client = world["stack"].anonymous()
    receipt, cid = await wait_receipt(client, done.receipt.uri)
    assert cid == done.receipt.cid  # the strongRef computed locally is the PDS's
    assert receipt["tokens"] == {"in": done.usage.tokens_in, "out": done.usage.tokens_out}
    assert receipt["price"] == {
        "amount": done.usage.tokens_in + 2 * done.usage.tokens_out,
        "currency": "CC",
    }
    assert receipt["params"] == {
        "maxTokens": 24,
        "temperatureMilli": 800,
        "topPMilli": 900,
        "seed": 42,
    }
    assert receipt["inputCommitment"] == job.record["inputCommitment"]
    attestation, _ = await fetch(client, receipt["attestation"]["uri"])
    assert attestation["tier"] == "best-effort" and attestation["secureEnclaveAvailable"] is False

    bundle = {
        "receipt": receipt, "job": job.record, "attestation": attestation,
        "authorization": job.auth, "receiptUri": done.receipt.uri,
        "strictOptions": {"expectedProvider": str(agent.client.did)},
    }  # fmt: skip
    code, verdict = cocore_verify(bundle, world["tmp"])
    assert code == 0 and verdict["ok"], verdict
    charge = {
        "exchangeDid": str(world["exchange"].did), "receiptUri": done.receipt.uri,
        "now": receipt["completedAt"],
    }  # fmt: skip
    code, verdict = cocore_verify({**bundle, "chargeContext": charge}, world["tmp"])
    assert code == 0 and verdict["ok"], verdict


async def test_a_seal_to_the_wrong_key_fails_explicitly_and_bills_nothing(
    world: dict[str, Any],
) -> None:
    requester: PayingRequester = world["requester"]
    before = await receipts_in_repo(world)
    job = await requester.publish_job(envelope(), TINY_ID, max_tokens=8)
    picked = await requester.pick(TINY_ID)
    stranger = EncryptionKeyPair.generate(SealScheme.X25519)
    candidate = pb.Candidate()
    candidate.CopyFrom(picked.candidates[0])
    candidate.encryption_pub_key = stranger.public_key_b64
    attempts, openers = requester.seal_for([candidate], job.plaintext)
    answer = await requester.collect(requester.dispatch_call(requester.job_spec(job), attempts),
                                     openers)  # fmt: skip
    assert answer.error is not None and answer.completed is None
    assert "undecryptable" in (answer.error.code, *answer.failovers), answer.error
    assert await receipts_in_repo(world) == before


async def test_cancelling_mid_stream_publishes_no_receipt(world: dict[str, Any]) -> None:
    requester: PayingRequester = world["requester"]
    agent: Agent = world["agent"]
    before = await receipts_in_repo(world)
    job = await requester.publish_job(envelope(), TINY_ID, max_tokens=4000)
    picked = await requester.pick(TINY_ID)
    attempts, _ = requester.seal_for(list(picked.candidates), job.plaintext)
    spec = requester.job_spec(job, temperature_milli=1000)
    spec.sampling.seed = 7  # this seed runs far past the first chunk (no early end of turn)
    call = requester.dispatch_call(spec, attempts)
    async for event in call:
        assert event.WhichOneof("event") in ("started", "chunks"), event
        if event.WhichOneof("event") == "chunks":
            call.cancel()  # the requester goes away mid-stream
            break
    await eventually(lambda: agent.link.jobs.running() == 0 and not agent.link.jobs.jobs)
    await agent.runner.wait_released()
    assert "held" not in await agent.outbox.counts()
    assert await receipts_in_repo(world) == before


async def receipts_in_repo(world: dict[str, Any]) -> int:
    agent: Agent = world["agent"]
    await agent.publisher.flush(10)
    client = world["stack"].anonymous()
    return len([v async for v in client.iter_records(agent.client.did, ids.COMPUTE_RECEIPT)])
