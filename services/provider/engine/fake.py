"""A deterministic fake engine for other components' tests: the real scheduler, slots,
cancellation, stop strings, `<think>` split and tool-call parsing over scripted "tokens".

    engine = await start_fake_engine({"fake-model": echo_script})
    async for item in engine.generate(GenerationRequest("fake-model", messages=[…])): …

A script maps a request to the text pieces the "model" emits, one piece per token; the
sequence then ends with an end-of-turn token (counted, never shown), unless `max_tokens` ends
it first. Prompt tokens are the whitespace-separated words of every message, plus 3 per message.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from services.provider.engine.base import BackendFinish, Prepared, TokenEvent
from services.provider.engine.chat import template_messages
from services.provider.engine.errors import ModelLoadFailed
from services.provider.engine.local import EngineConfig, LocalEngine, ModelSpec
from services.provider.engine.types import GenerationRequest, ModelInfo

Script = Callable[[GenerationRequest], Sequence[str]]


def echo_script(req: GenerationRequest) -> list[str]:
    """`Echo: <last user text>` in 4-character pieces."""
    last = req.prompt or ""
    for message in req.messages or ():
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            last = message["content"]
    text = f"Echo: {last}"
    return [text[i : i + 4] for i in range(0, len(text), 4)]


def fixed_script(*pieces: str) -> Script:
    return lambda _req: list(pieces)


def endless_script(piece: str = "ab") -> Script:
    """Never ends on its own: for cancellation and max_tokens tests."""
    return lambda req: [piece] * (req.max_tokens + 1)


@dataclass
class _Seq:
    pieces: list[str]
    max_tokens: int
    emitted: int = 0


class FakeBackend:
    """Implements `StepBackend` without a model; `step_delay_s` slows each step down."""

    def __init__(
        self, model_id: str, script: Script, *, slots: int, tools: bool, step_delay_s: float
    ) -> None:
        self._script = script
        self._delay = step_delay_s
        self._info = ModelInfo(model_id, 4096, supports_tools=tools, slots=slots)
        self._seqs: dict[int, _Seq] = {}
        self._next_uid = 0

    @property
    def info(self) -> ModelInfo:
        return self._info

    def prepare(self, req: GenerationRequest) -> Prepared:
        messages = template_messages(req) if req.messages is not None else []
        words = sum(len(str(m["content"]).split()) + 3 for m in messages)
        if req.prompt is not None:
            words = len(req.prompt.split())
        return Prepared([0] * max(words, 1), req.max_tokens)

    def insert(self, prepared: Prepared, req: GenerationRequest, seed: int) -> int:
        uid, self._next_uid = self._next_uid, self._next_uid + 1
        self._seqs[uid] = _Seq([*self._script(req), ""], prepared.max_tokens)
        return uid

    def remove(self, uid: int) -> None:
        self._seqs.pop(uid, None)

    def step(self) -> list[TokenEvent]:
        if self._delay:
            time.sleep(self._delay)
        events = []
        for uid, seq in list(self._seqs.items()):
            text = seq.pieces[seq.emitted]
            seq.emitted += 1
            finish: BackendFinish | None = None
            if seq.emitted == len(seq.pieces):
                finish = "stop"
            elif seq.emitted >= seq.max_tokens:
                finish = "length"
            if finish is not None:
                del self._seqs[uid]
            events.append(TokenEvent(uid, text, finish))
        return events

    def reset(self) -> None:
        self._seqs.clear()

    def close(self) -> None:
        self._seqs.clear()


def _failing(model_id: str, code: str) -> Callable[[], FakeBackend]:
    def load() -> FakeBackend:
        raise ModelLoadFailed(f"{model_id}: scripted load failure", code=code)

    return load


async def start_fake_engine(
    scripts: Mapping[str, Script],
    *,
    slots: int = 4,
    max_waiting: int = 16,
    tools: bool = True,
    step_delay_s: float = 0.0,
    faults: Mapping[str, str] | None = None,
) -> LocalEngine:
    """A started LocalEngine over fake backends; `faults` maps model ids to fault codes."""
    factories: dict[str, Callable[[], FakeBackend]] = {}
    for mid, script in scripts.items():
        factories[mid] = _make(mid, script, slots, tools, step_delay_s)
    for mid, code in (faults or {}).items():
        factories[mid] = _failing(mid, code)
    specs = tuple(ModelSpec(m, Path(m), slots, max_waiting) for m in factories)
    counter = iter(range(1 << 62))
    config = EngineConfig(
        specs, seed_source=lambda: 0, id_source=lambda: f"call_{next(counter):024d}"
    )
    engine = LocalEngine(config, factories)
    await engine.start()
    return engine


def _make(
    mid: str, script: Script, slots: int, tools: bool, delay: float
) -> Callable[[], FakeBackend]:
    return lambda: FakeBackend(mid, script, slots=slots, tools=tools, step_delay_s=delay)
