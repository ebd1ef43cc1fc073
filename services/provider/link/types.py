"""What the link hands a job runner and what it expects back (no gRPC types in here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Protocol

from cocore.crypto import SealScheme

if TYPE_CHECKING:
    from .output import JobOutput


class Channel(IntEnum):
    """Values match the proto's `Channel` enum."""

    CONTENT = 1
    REASONING = 2
    TOOL_CALL = 3  # plaintext is the JSON of OpenAI `delta.tool_calls`


@dataclass(frozen=True, slots=True)
class StrongRef:
    uri: str
    cid: str


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str


@dataclass(frozen=True, slots=True)
class JobRequest:
    """A sealed job: only the runner (holding the encryption key) can open `sealed_input`."""

    job_id: str
    requester_did: str
    model: str
    sealed_input: bytes
    requester_pub_key: str
    enc_scheme: SealScheme
    input_format: str = "text"  # or "messages-v1"
    max_tokens: int = 1024
    temperature_milli: int | None = None
    top_p_milli: int | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()
    tools: list[Any] | None = None  # parsed JSON
    tool_choice: str = ""
    tool_choice_function: str = ""
    output_schema: dict[str, Any] | None = None  # {name, strict?, schema}
    job: StrongRef | None = None
    authorization: StrongRef | None = None
    price_ceiling: Money | None = None
    pro_bono: bool = False


@dataclass(frozen=True, slots=True)
class JobResult:
    """How a job finished; `receipt` is the strongRef computed locally (rkey + CID)."""

    tokens_in: int
    tokens_out: int
    finish_reason: str = "stop"  # "stop" | "length" | "tool_calls"
    reasoning_tokens: int = 0
    receipt: StrongRef | None = None
    output_commitment: str = ""
    reasoning_commitment: str = ""
    output_cipher_commitment: str = ""


class JobFailure(Exception):
    """Raise from `JobRunner.run` to answer with an explicit failure frame.

    Codes are stable: "undecryptable", "model_not_loaded", "invalid_request", "engine_error",
    "context_too_long", … `message` is one line and never holds prompt or completion text.
    """

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.code = code
        self.message = message or code


class JobCancelled(Exception):
    """Raised by `JobOutput.emit` once the matchmaker cancelled the job (or it was abandoned)."""


class JobRunner(Protocol):
    """Runs one job: open the input, generate, seal each chunk, `await out.emit(...)`.

    Cancellation arrives as `asyncio.CancelledError` at an await (or `JobCancelled` from
    `emit`); engines running on threads can poll `out.cancelled`. A cancelled job must not
    publish a receipt. Raise `JobFailure` for an explicit failure; any other exception is
    reported as "engine_error" without its text.
    """

    async def run(self, job: JobRequest, out: JobOutput) -> JobResult: ...


@dataclass(frozen=True, slots=True)
class LoadReport:
    """What heartbeats say about the engine beyond the link's own job count."""

    queued: int = 0
    load: float = 0.0  # 0..1


@dataclass(frozen=True, slots=True)
class ModelSpec:
    id: str
    context_length: int = 0
    tools: bool = False


@dataclass(frozen=True, slots=True)
class ProBono:
    mode: str = ""
    dids: tuple[str, ...] = field(default_factory=tuple)
