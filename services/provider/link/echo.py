"""A deterministic runner for tests: opens the sealed input for real and echoes it back sealed."""

from __future__ import annotations

import asyncio

from cocore.crypto import (
    CryptoError,
    EncryptionKeyPair,
    open_request,
    output_cipher_commitment,
    output_commitment,
)

from .output import JobOutput
from .types import Channel, JobFailure, JobRequest, JobResult


class EchoRunner:
    """Answers "echo:" then each input word as its own chunk (one "token" each).

    `delay_s` paces chunks; `stall_after` hangs after that many chunks (until cancelled);
    `reasoning` sends one reasoning chunk first. `started` / `cancelled` record job ids.
    """

    def __init__(
        self,
        keypair: EncryptionKeyPair,
        *,
        delay_s: float = 0.0,
        stall_after: int | None = None,
        reasoning: bool = False,
    ) -> None:
        self._keypair = keypair
        self.delay_s = delay_s
        self.stall_after = stall_after
        self.reasoning = reasoning
        self.started: list[str] = []
        self.cancelled: list[str] = []
        self.finished: list[str] = []
        self.deliveries: dict[str, asyncio.Future[bool]] = {}  # what an agent waits on to bill

    async def run(self, job: JobRequest, out: JobOutput) -> JobResult:
        self.started.append(job.job_id)
        self.deliveries[job.job_id] = out.delivery
        try:
            plaintext, sealer = open_request(self._keypair, job.requester_pub_key, job.sealed_input)
        except CryptoError:
            raise JobFailure(
                "undecryptable", "the input does not open with this machine's key"
            ) from None
        words = plaintext.decode("utf-8", "replace").split()
        pieces = ["echo:", *(f" {w}" for w in words)][: job.max_tokens]
        sealed: list[bytes] = []
        try:
            if self.reasoning:
                await out.emit(Channel.REASONING, sealer.seal_chunk(b"thinking"))
            for index, piece in enumerate(pieces):
                if self.stall_after is not None and index >= self.stall_after:
                    await asyncio.Event().wait()  # a hung engine: only cancellation ends it
                blob = sealer.seal_chunk(piece.encode())
                sealed.append(blob)
                await out.emit(Channel.CONTENT, blob)
                if self.delay_s:
                    await asyncio.sleep(self.delay_s)
        except asyncio.CancelledError:
            self.cancelled.append(job.job_id)
            raise
        self.finished.append(job.job_id)
        truncated = len(pieces) < len(words) + 1
        return JobResult(
            tokens_in=len(words),
            tokens_out=len(pieces),
            finish_reason="length" if truncated else "stop",
            output_commitment=output_commitment(pieces),
            output_cipher_commitment=output_cipher_commitment(sealed),
        )
