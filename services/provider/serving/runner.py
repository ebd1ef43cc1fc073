"""The agent's `JobRunner`: open the sealed input, drive the engine, seal every delta, and
produce the receipt — on success only; a failed or cancelled job publishes nothing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cocore.crypto import CryptoError, ReplySealer, open_request, sha256_hex
from cocore.keystore import KeyDir
from cocore.syntax import Did

from .. import events
from ..engine import (
    Engine,
    EngineNotRunning,
    Finish,
    GenerationRequest,
    GenerationStream,
    InvalidGenerationRequest,
    ModelNotServed,
    ToolsUnsupported,
)
from ..errors import AttestationUnusable
from ..link import JobCancelled, JobFailure, JobOutput, JobRequest, JobResult, ProBono
from ..outbox import Outbox, Publisher
from ..records.attestation import AttestationKeeper
from ..records.pricing import TokenRate
from ..records.receipt import ServedJob, build_receipt, generation_params
from .job_input import generation_request
from .writer import ChunkWriter

log = logging.getLogger("cocore.provider.runner")
# A job is refused at its start unless the attestation stays valid this long: a receipt must
# never reference an attestation that expired before the job completed.
ATTESTATION_MARGIN_S = 600.0


@dataclass(frozen=True, slots=True)
class RunnerSettings:
    flush_s: float = 0.02
    flush_tokens: int = 16
    attestation_margin_s: float = ATTESTATION_MARGIN_S


class EngineRunner:
    """Implements `services.provider.link.JobRunner` over the in-process engine."""

    def __init__(
        self,
        engine: Engine,
        keys: KeyDir,
        did: Did,
        *,
        attestation: AttestationKeeper,
        rate: Callable[[], TokenRate],
        pro_bono: Callable[[], ProBono],
        outbox: Outbox,
        publisher: Publisher,
        clock: Callable[[], datetime],
        settings: RunnerSettings = RunnerSettings(),
    ) -> None:
        self._engine = engine
        self._keys = keys
        self._did = did
        self._attestation = attestation
        self._rate = rate
        self._pro_bono = pro_bono
        self._outbox = outbox
        self._publisher = publisher
        self._clock = clock
        self._settings = settings
        self._releases: set[asyncio.Task[None]] = set()

    async def run(self, job: JobRequest, out: JobOutput) -> JobResult:
        try:
            return await self._run(job, out)
        except (asyncio.CancelledError, JobCancelled):
            events.job_cancelled(job.job_id)
            raise
        except JobFailure as e:
            events.job_failed(job.job_id, e.code)
            raise

    async def _run(self, job: JobRequest, out: JobOutput) -> JobResult:
        started = self._clock()
        if self._attestation.usable(started, self._settings.attestation_margin_s) is None:
            raise JobFailure("attestation_expired", "the machine's attestation is being renewed")
        plaintext, sealer = self._open(job)
        pro_bono = self._is_pro_bono(job)
        params = generation_params(job)
        request = generation_request(job, plaintext)
        strict = bool(job.output_schema and job.output_schema.get("strict") is True)
        writer, finish = await self._generate(request, sealer, out, strict)
        result = JobResult(
            tokens_in=finish.prompt_tokens,
            tokens_out=finish.completion_tokens,
            finish_reason="tool_calls" if writer.tool_calls else finish.reason,
            output_commitment=writer.content.hexdigest(),
            reasoning_commitment="" if writer.reasoning.is_empty else writer.reasoning.hexdigest(),
            output_cipher_commitment=writer.cipher.hexdigest(),
        )
        events.job_completed(job.job_id, result.tokens_in, result.tokens_out, writer.chunks)
        if job.job is None:
            return result  # no job record to commit against: nothing to bill
        served = ServedJob(
            job=job.job, requester=job.requester_did, model=job.model,
            input_commitment=sha256_hex(plaintext), output_commitment=result.output_commitment,
            output_cipher_commitment=result.output_cipher_commitment,
            reasoning_commitment=result.reasoning_commitment or None, params=params,
            tokens_in=result.tokens_in, tokens_out=result.tokens_out, started_at=started,
            completed_at=self._clock(), pro_bono=pro_bono,
        )  # fmt: skip
        return await self._receipt(job, out, served, result)

    def _open(self, job: JobRequest) -> tuple[bytes, ReplySealer]:
        keypair = self._keys.encryption
        if job.enc_scheme is not keypair.scheme:
            raise JobFailure("undecryptable", f"this machine opens {keypair.scheme.value} only")
        try:
            return open_request(keypair, job.requester_pub_key, job.sealed_input)
        except CryptoError:
            raise JobFailure(
                "undecryptable", "the input does not open with this machine's key"
            ) from None

    def _is_pro_bono(self, job: JobRequest) -> bool:
        """The owner's live election decides; a job routed as pro bono that no longer
        matches is refused (before any work) rather than silently billed."""
        policy = self._pro_bono()
        applies = policy.mode == "any" or (
            policy.mode == "direct" and job.requester_did in policy.dids
        )
        if job.pro_bono and not applies:
            raise JobFailure("pro_bono_withdrawn", "this machine no longer serves this pro bono")
        return applies

    async def _generate(
        self, request: GenerationRequest, sealer: ReplySealer, out: JobOutput, strict: bool
    ) -> tuple[ChunkWriter, Finish]:
        stream = self._start(request)
        s = self._settings
        writer = ChunkWriter(out, sealer, flush_s=s.flush_s, flush_tokens=s.flush_tokens)
        try:
            finish = await _pump(stream, writer)
        finally:
            await stream.aclose()
        return writer, _checked(finish, out, strict)

    def _start(self, request: GenerationRequest) -> GenerationStream:
        try:
            return self._engine.generate(request)
        except ModelNotServed:
            raise JobFailure(
                "model_not_loaded", "the model is not loaded on this machine"
            ) from None
        except ToolsUnsupported:
            raise JobFailure("tools_unsupported", "this model does not take tools") from None
        except InvalidGenerationRequest as e:
            raise JobFailure("invalid_request", e.message) from None
        except EngineNotRunning:
            raise JobFailure("engine_unavailable", "the engine is not running") from None

    async def _receipt(
        self, job: JobRequest, out: JobOutput, served: ServedJob, result: JobResult
    ) -> JobResult:
        attestation = self._attestation.usable(served.completed_at)
        if attestation is None:
            # Never reference an expired attestation: the work goes unbilled instead.
            log.error("job %s: no valid attestation at completion; no receipt", job.job_id)
            return result
        try:
            receipt = build_receipt(
                served, self._rate(), attestation, self._did, self._keys.signing
            )
        except AttestationUnusable:
            return result
        await self._outbox.hold(receipt)
        events.receipt_held(job.job_id, receipt.uri)
        task = asyncio.create_task(self._release(receipt.rkey, receipt.uri, out.delivery))
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)
        return JobResult(
            tokens_in=result.tokens_in, tokens_out=result.tokens_out,
            finish_reason=result.finish_reason, receipt=receipt.ref,
            output_commitment=result.output_commitment,
            reasoning_commitment=result.reasoning_commitment,
            output_cipher_commitment=result.output_cipher_commitment,
        )  # fmt: skip

    async def _release(self, rkey: str, uri: str, delivery: asyncio.Future[bool]) -> None:
        delivered = await asyncio.shield(delivery)
        await self._outbox.release(rkey, delivered=delivered)
        events.receipt_released(uri, delivered)
        if delivered:
            self._publisher.wake()

    async def wait_released(self) -> None:
        """Every completed job's receipt is queued or discarded (call after the link drained)."""
        if self._releases:
            await asyncio.gather(*list(self._releases), return_exceptions=True)


async def _pump(stream: GenerationStream, writer: ChunkWriter) -> Finish:
    """Engine items into the writer; what it buffers is flushed when its deadline passes."""
    while True:
        try:
            items = await stream.next_items(writer.deadline())
        except Exception as e:  # noqa: BLE001 (an engine fault becomes the job's failure)
            log.warning("engine stream failed: %s", type(e).__name__)
            raise JobFailure("engine_error", "the engine failed") from None
        if not items:  # the flush deadline passed, or the stream ended without its Finish
            if writer.deadline() is None:
                raise JobFailure("engine_error", "the engine stream ended early")
            await writer.flush()
            continue
        for item in items:
            if isinstance(item, Finish):
                await writer.flush()
                return item
            await writer.add(item)


def _checked(finish: Finish, out: JobOutput, strict: bool) -> Finish:
    if finish.ok:
        if strict and finish.format_ok is False:
            raise JobFailure("output_schema_violation", "the output does not match the schema")
        return finish
    if finish.reason == "cancelled" or out.cancelled:
        raise JobCancelled(out.job_id)
    code = finish.error_code or "engine_error"
    raise JobFailure(code, f"the engine stopped the job ({code})")  # never the engine's text
