"""A provider job runner for the whole-stack tests: the real engine, real sealing, real receipts.

Until the provider agent's own runner lands, this is what serves jobs in `tests/network.py`:
it opens the sealed input, runs `services.provider.engine` (the real mlx engine on the tiny
model, or the scripted fake engine for tool calls and JSON), seals every chunk back, and signs
a `compute.receipt` priced at the exchange's `tokenRate`. The receipt's rkey and CID are fixed
before the completion frame (so the gateway learns its strongRef at once) and the record is
published to the provider's PDS only once the answer was delivered.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cocore.atproto import AtprotoClient, AtprotoError
from cocore.crypto import (
    CryptoError,
    EncryptionKeyPair,
    SigningKey,
    open_request,
    output_cipher_commitment,
    output_commitment,
    reasoning_commitment,
    sha256_hex,
)
from cocore.errors import CocoreError
from cocore.lexicon import ids
from cocore.signing import sign_receipt
from cocore.syntax import TidClock, format_datetime, make_at_uri, parse_record_key, record_cid
from services.provider.engine import Delta, Engine, Finish, GenerationRequest, ResponseFormat
from services.provider.link import Channel, JobFailure, JobOutput, JobRequest, JobResult, StrongRef

STALL = "stalling"
CHANNELS = {"content": Channel.CONTENT, "reasoning": Channel.REASONING,
            "tool_call": Channel.TOOL_CALL}  # fmt: skip


@dataclass
class EngineRunner:
    engines: Mapping[str, Engine]  # model id → engine
    keypair: EncryptionKeyPair
    key: SigningKey
    attestation: StrongRef
    client: AtprotoClient
    rate: tuple[int, int, str]  # tokenRate in/out per MTok, currency
    tids: TidClock = field(default_factory=TidClock)
    published: list[str] = field(default_factory=list)
    requests: list[GenerationRequest] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def run(self, job: JobRequest, out: JobOutput) -> JobResult:
        started = datetime.now(UTC)
        try:
            plaintext, sealer = open_request(self.keypair, job.requester_pub_key, job.sealed_input)
        except CryptoError:
            raise JobFailure("undecryptable", "the input does not open") from None
        req = _request(job, plaintext)
        self.requests.append(req)
        engine = self.engines.get(job.model)
        if job.model == STALL:
            await asyncio.Event().wait()  # a hung machine: only cancellation ends it
        if engine is None:
            raise JobFailure("model_not_loaded")
        content, reasoning, sealed = [], [], []
        finish: Finish | None = None
        try:
            generation = engine.generate(req)
        except CocoreError as e:
            raise JobFailure("invalid_request", e.code) from None
        async with generation as stream:  # type: ignore[attr-defined]
            async for item in stream:
                if isinstance(item, Finish):
                    finish = item
                    break
                assert isinstance(item, Delta)
                (content if item.channel == "content" else reasoning if
                 item.channel == "reasoning" else []).append(item.text)  # fmt: skip
                blob = sealer.seal_chunk(item.text.encode())
                sealed.append(blob)
                await out.emit(CHANNELS[item.channel], blob)
        if finish is None or not finish.ok:
            raise JobFailure(finish.error_code or "engine_error" if finish else "engine_error")
        receipt = self._receipt(job, plaintext, content, reasoning, sealed, finish, started)
        self._publish_after_delivery(out, receipt)
        return JobResult(
            tokens_in=finish.prompt_tokens, tokens_out=finish.completion_tokens,
            finish_reason=finish.reason, receipt=StrongRef(receipt[0], receipt[1]),
            output_commitment=output_commitment(content),
            reasoning_commitment=reasoning_commitment(reasoning) or "",
            output_cipher_commitment=output_cipher_commitment(sealed),
        )  # fmt: skip

    def _receipt(  # noqa: PLR0917 - one call site, the parts of one receipt
        self, job: JobRequest, plaintext: bytes, content: list[str], reasoning: list[str],
        sealed: list[bytes], finish: Finish, started: datetime,
    ) -> tuple[str, str, str, dict[str, Any]]:  # fmt: skip
        assert job.job is not None
        rate_in, rate_out, currency = self.rate
        price = (
            0
            if job.pro_bono
            else (finish.prompt_tokens * rate_in + finish.completion_tokens * rate_out) // 1_000_000
        )
        body: dict[str, Any] = {
            "$type": str(ids.COMPUTE_RECEIPT),
            "job": {"uri": job.job.uri, "cid": job.job.cid}, "requester": job.requester_did,
            "model": job.model, "inputCommitment": sha256_hex(plaintext),
            "outputCommitment": output_commitment(content),
            "outputCipherCommitment": output_cipher_commitment(sealed),
            "tokens": {"in": 0 if job.pro_bono else finish.prompt_tokens,
                       "out": 0 if job.pro_bono else finish.completion_tokens},
            "startedAt": str(format_datetime(started)),
            "completedAt": str(format_datetime(datetime.now(UTC))),
            "price": {"amount": price, "currency": currency},
            "attestation": {"uri": self.attestation.uri, "cid": self.attestation.cid},
        }  # fmt: skip
        if job.pro_bono:
            body["proBono"] = True
        thinking = reasoning_commitment(reasoning)
        if thinking:
            body["reasoningCommitment"] = thinking
        record = sign_receipt(body, self.key)
        rkey = str(self.tids.next())
        uri = make_at_uri(self.client.did, ids.COMPUTE_RECEIPT, parse_record_key(rkey))
        return str(uri), str(record_cid(record)), rkey, record

    def _publish_after_delivery(self, out: JobOutput, receipt: tuple[str, str, str, Any]) -> None:
        async def publish() -> None:
            if await out.delivery:
                uri, _, rkey, record = receipt
                try:
                    await self.client.create_record(ids.COMPUTE_RECEIPT, record,
                                                    parse_record_key(rkey))  # fmt: skip
                except AtprotoError:
                    return  # no receipt: the gateway releases the hold after its wait
                self.published.append(uri)

        task = asyncio.create_task(publish())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _request(job: JobRequest, plaintext: bytes) -> GenerationRequest:
    fmt = None
    if job.output_schema is not None:
        if job.output_schema.get("name") == "json_object":
            fmt = ResponseFormat("json_object")
        else:
            fmt = ResponseFormat("json_schema", job.output_schema.get("schema", {}),
                                 job.output_schema.get("name"))  # fmt: skip
    choice: Any = job.tool_choice or "auto"
    if job.tool_choice_function:
        choice = {"type": "function", "function": {"name": job.tool_choice_function}}
    common: dict[str, Any] = {
        "max_tokens": job.max_tokens, "seed": job.seed, "stop": job.stop,
        "temperature": 1.0 if job.temperature_milli is None else job.temperature_milli / 1000,
        "top_p": 1.0 if job.top_p_milli is None else job.top_p_milli / 1000,
        "tools": job.tools or (), "tool_choice": choice if job.tools else "auto",
        "response_format": fmt,
    }  # fmt: skip
    try:
        if job.input_format == "messages-v1":
            envelope = json.loads(plaintext)
            return GenerationRequest(job.model, messages=envelope["messages"], **common)
        return GenerationRequest(job.model, prompt=plaintext.decode("utf-8"), **common)
    except (ValueError, KeyError, TypeError, CocoreError) as e:
        raise JobFailure("invalid_request", "the input is not a valid request") from e
