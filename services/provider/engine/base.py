"""The engine interface callers use, and the step backend one model worker drives."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from services.provider.engine.types import (
    Delta,
    EngineFault,
    Finish,
    GenerationRequest,
    ModelInfo,
)

BackendFinish = Literal["stop", "length"]


class GenerationStream(Protocol):
    """An async iterator of Deltas, then exactly one Finish. Closing it early (`aclose()`,
    leaving `async with`, or cancelling the task awaiting it) cancels the generation and frees
    its slot; `cancel()` also cancels but still delivers Finish(`cancelled`)."""

    def __aiter__(self) -> AsyncIterator[Delta | Finish]: ...

    async def __anext__(self) -> Delta | Finish: ...

    def cancel(self) -> None: ...

    async def aclose(self) -> None: ...

    async def next_items(self, deadline: float | None = None) -> list[Delta | Finish]: ...


class Engine(Protocol):
    """What the provider agent serves from. `generate` raises `InvalidGenerationRequest`,
    `ToolsUnsupported`, `ModelNotServed` or `EngineNotRunning` synchronously for requests it
    cannot take; every later outcome (busy, prompt too long, cancelled, engine error) arrives
    as the stream's Finish."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def models(self) -> list[ModelInfo]: ...

    def faults(self) -> dict[str, EngineFault]: ...

    def free_slots(self, model: str | None = None) -> int: ...

    def generate(self, req: GenerationRequest) -> GenerationStream: ...


@dataclass(frozen=True)
class Prepared:
    """A request rendered to prompt tokens by a backend, ready to be inserted into the batch."""

    prompt_tokens: Sequence[int]
    max_tokens: int
    start_in_reasoning: bool = False


@dataclass(frozen=True)
class TokenEvent:
    """One generated token for one sequence: its newly decodable text, and why it ended."""

    uid: int
    text: str
    finish: BackendFinish | None = None


class StepBackend(Protocol):
    """One loaded model, driven from a single worker thread (never called concurrently)."""

    @property
    def info(self) -> ModelInfo: ...

    def prepare(self, req: GenerationRequest) -> Prepared: ...

    def insert(self, prepared: Prepared, req: GenerationRequest, seed: int) -> int: ...

    def remove(self, uid: int) -> None: ...

    def step(self) -> list[TokenEvent]: ...

    def reset(self) -> None: ...

    def close(self) -> None: ...
