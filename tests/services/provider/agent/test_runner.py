"""EngineRunner over the fake engine with real sealing, a real JobOutput and a SQLite outbox:
what a requester opens, what the commitments cover, and when a receipt exists at all."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cocore.canonical import canonicalize
from cocore.crypto import (
    EncryptionKeyPair,
    ReplyOpener,
    SealScheme,
    output_cipher_commitment,
    output_commitment,
    seal_request,
    sha256_hex,
)
from cocore.keystore import KeyDir
from cocore.proto.matchmaker.v1 import matchmaker_pb2 as pb
from services.provider.engine import LocalEngine
from services.provider.engine.fake import (
    echo_script,
    endless_script,
    fixed_script,
    start_fake_engine,
)
from services.provider.link import JobFailure, JobOutput, JobRequest, ProBono
from services.provider.link.output import OutputLimits, ReplayBudget
from services.provider.outbox import Outbox, Publisher
from services.provider.records.attestation import AttestationKeeper
from services.provider.records.pricing import TokenRate
from services.provider.serving.runner import EngineRunner, RunnerSettings

from . import factory as f

MESSAGES = [{"content": "hello there world", "role": "user"}]


class Clock:
    def __init__(self) -> None:
        self.now = f.T0 + timedelta(hours=1)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def engine() -> AsyncIterator[LocalEngine]:
    scripts = {
        "fake": echo_script,
        "endless": endless_script("ab"),
        "think": fixed_script("<think>", "hmm", "</think>", "Yes", "."),
        "tools": fixed_script('<tool_call>{"name": "f", "arguments": {"x": 1}}</tool_call>'),
    }
    e = await start_fake_engine(scripts, step_delay_s=0.001)
    yield e
    await e.stop()


class World:
    def __init__(self, engine: LocalEngine, kd: KeyDir, outbox: Outbox, clock: Clock) -> None:
        self.kd, self.outbox, self.clock = kd, outbox, clock
        self.keeper = AttestationKeeper(
            None, kd, f.LINUX, code="ab" * 32, clock=clock, validity_s=86400,  # type: ignore[arg-type]
            renew_before_s=3600,
        )  # fmt: skip
        self.keeper.current = f.attestation(kd)
        self.pro_bono = ProBono()
        self.runner = EngineRunner(
            engine, kd, f.PROVIDER, attestation=self.keeper, rate=lambda: TokenRate(1, 1, "CC"),
            pro_bono=lambda: self.pro_bono, outbox=outbox,
            publisher=Publisher(outbox, None),  # type: ignore[arg-type]
            clock=clock, settings=RunnerSettings(flush_s=0.02, flush_tokens=4),
        )  # fmt: skip

    def job(
        self, plaintext: bytes | None = None, model: str = "fake", **over: Any
    ) -> tuple[JobRequest, ReplyOpener]:
        plaintext = plaintext or canonicalize({"messages": MESSAGES, "v": 1})
        record = f.job_record(plaintext)
        scheme = self.kd.encryption.scheme
        blob, pub, opener = seal_request(scheme, self.kd.encryption.public_key_b64, plaintext)
        fields: dict[str, Any] = dict(
            job_id="job-1", requester_did=f.REQUESTER, model=model, sealed_input=blob,
            requester_pub_key=pub, enc_scheme=scheme, input_format="messages-v1",
            max_tokens=64, temperature_milli=0, job=f.job_ref(record),
        )  # fmt: skip
        fields.update(over)
        return JobRequest(**fields), opener


@pytest.fixture(params=[SealScheme.X25519, SealScheme.P256_ECIES_SE])
async def world(
    request: pytest.FixtureRequest, engine: LocalEngine, tmp_path: Path
) -> AsyncIterator[World]:
    clock = Clock()
    outbox = await Outbox.open(tmp_path / "outbox.sqlite", clock)
    w = World(engine, f.keys(tmp_path, request.param), outbox, clock)
    yield w
    for out in OUTPUTS:  # jobs whose delivery a test never settled
        out.release(False)
    OUTPUTS.clear()
    await w.runner.wait_released()
    await outbox.close()


OUTPUTS: list[JobOutput] = []


def output() -> JobOutput:
    out = JobOutput("job-1", OutputLimits(), ReplayBudget(1 << 24, lambda: None), lambda: None)
    out.attached = True
    OUTPUTS.append(out)
    return out


def opened(out: JobOutput, opener: ReplyOpener) -> list[tuple[int, bytes, bytes]]:
    frames: list[tuple[int, bytes, bytes]] = []
    while (frame := out.pull()) is not None and frame.WhichOneof("frame") == "chunks":
        frames += [(c.channel, c.sealed, opener.open_chunk(c.sealed)) for c in frame.chunks.chunks]
    return frames


async def test_a_job_streams_sealed_coalesced_chunks_and_holds_its_receipt(world: World) -> None:
    job, opener = world.job()
    out = output()
    result = await world.runner.run(job, out)
    chunks = opened(out, opener)
    text = b"".join(p for _, _, p in chunks).decode()
    assert text == "Echo: hello there world"
    assert 1 < len(chunks) < result.tokens_out  # the first piece alone, then joined pieces
    assert chunks[0][2] == b"Echo"
    assert result.output_commitment == output_commitment([text])
    assert result.output_cipher_commitment == output_cipher_commitment([c for _, c, _ in chunks])
    assert result.receipt is not None
    row = await world.outbox.get(result.receipt.uri.rsplit("/", 1)[1])
    assert row is not None and row.state == "held" and row.cid == result.receipt.cid
    assert row.record["inputCommitment"] == sha256_hex(canonicalize({"messages": MESSAGES, "v": 1}))
    assert row.record["tokens"] == {"in": result.tokens_in, "out": result.tokens_out}
    out.release(True)  # the matchmaker acknowledged the completion
    await world.runner.wait_released()
    assert (await world.outbox.get(row.rkey)).state == "pending"  # type: ignore[union-attr]


async def test_an_undelivered_answer_is_never_billed(world: World) -> None:
    job, _ = world.job()
    out = output()
    result = await world.runner.run(job, out)
    out.release(False)  # cancelled after completing, or abandoned
    await world.runner.wait_released()
    assert result.receipt is not None and await world.outbox.counts() == {}


async def test_a_seal_to_another_key_is_an_explicit_failure(world: World) -> None:
    job, _ = world.job()
    other = EncryptionKeyPair.generate(world.kd.encryption.scheme)
    blob, pub, _ = seal_request(other.scheme, other.public_key_b64, b"x")
    for bad in (JobRequest(**{**_fields(job), "sealed_input": blob, "requester_pub_key": pub}),
                JobRequest(**{**_fields(job), "sealed_input": b"\0" * 10})):  # fmt: skip
        with pytest.raises(JobFailure) as e:
            await world.runner.run(bad, output())
        assert e.value.code == "undecryptable"
    wrong_scheme = SealScheme.X25519 if job.enc_scheme is SealScheme.P256_ECIES_SE else (
        SealScheme.P256_ECIES_SE)  # fmt: skip
    with pytest.raises(JobFailure) as e:
        await world.runner.run(JobRequest(**{**_fields(job), "enc_scheme": wrong_scheme}), output())
    assert e.value.code == "undecryptable" and await world.outbox.counts() == {}


def _fields(job: JobRequest) -> dict[str, Any]:
    return {name: getattr(job, name) for name in JobRequest.__slots__}


async def test_cancelling_mid_stream_stops_the_engine_and_makes_no_receipt(
    world: World, engine: LocalEngine
) -> None:
    job, _ = world.job(model="endless", max_tokens=100_000)
    out = output()
    task = asyncio.create_task(world.runner.run(job, out))
    while out.produced < 2:
        await asyncio.sleep(0.005)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    while engine.free_slots("endless") < 4:  # the generation's slot comes back
        await asyncio.sleep(0.005)
    assert await world.outbox.counts() == {}


async def test_reasoning_and_tool_calls_go_to_their_channels(world: World) -> None:
    job, opener = world.job(model="think")
    out = output()
    result = await world.runner.run(job, out)
    chunks = opened(out, opener)
    assert [(c, p) for c, _, p in chunks] == [(pb.CHANNEL_REASONING, b"hmm"),
                                              (pb.CHANNEL_CONTENT, b"Yes.")]  # fmt: skip
    assert result.reasoning_commitment == sha256_hex(b"hmm")
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    job, opener = world.job(model="tools", tools=tools, job_id="job-2")
    out = output()
    result = await world.runner.run(job, out)
    ((channel, _, plain),) = opened(out, opener)
    call = json.loads(plain)
    assert channel == pb.CHANNEL_TOOL_CALL and result.finish_reason == "tool_calls"
    assert call[0]["function"] == {"name": "f", "arguments": '{"x":1}'} and call[0]["index"] == 0


async def test_jobs_the_machine_cannot_bill_honestly_are_refused_first(world: World) -> None:
    world.keeper.current = f.attestation(
        world.kd, at=world.clock.now - timedelta(hours=23, minutes=55)
    )
    job, _ = world.job()
    with pytest.raises(JobFailure) as e:  # 5 minutes left: less than a job may take
        await world.runner.run(job, output())
    assert e.value.code == "attestation_expired"
    world.keeper.current = f.attestation(world.kd, at=world.clock.now)
    with pytest.raises(JobFailure) as e:
        await world.runner.run(world.job(pro_bono=True)[0], output())
    assert e.value.code == "pro_bono_withdrawn"
    with pytest.raises(JobFailure) as e:
        await world.runner.run(world.job(model="missing")[0], output())
    assert e.value.code == "model_not_loaded"
    assert await world.outbox.counts() == {}


async def test_a_matching_pro_bono_election_signs_a_free_receipt(world: World) -> None:
    world.pro_bono = ProBono("direct", (f.REQUESTER,))
    out = output()
    result = await world.runner.run(world.job()[0], out)
    assert result.receipt is not None and result.tokens_out > 0
    row = await world.outbox.get(result.receipt.uri.rsplit("/", 1)[1])
    assert row is not None and row.record["proBono"] is True
    assert row.record["tokens"] == {"in": 0, "out": 0} and row.record["price"]["amount"] == 0


async def test_text_input_is_a_raw_prompt(world: World) -> None:
    job, opener = world.job(b"plain words", input_format="text")
    out = output()
    await world.runner.run(job, out)
    assert b"".join(p for _, _, p in opened(out, opener)) == b"Echo: plain words"
