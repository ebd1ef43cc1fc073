"""The mlx-lm step backend (the only module that imports mlx): continuous batching through
mlx-lm's `BatchGenerator`, per-request samplers with their own PRNG key, streaming detokenizers."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlx.core as mx
from mlx_lm.generate import BatchGenerator
from mlx_lm.sample_utils import apply_top_p
from mlx_lm.tokenizer_utils import load as load_tokenizer
from mlx_lm.utils import load_model

from services.provider.engine.base import Prepared, TokenEvent
from services.provider.engine.chat import template_messages, template_supports_tools, template_tools
from services.provider.engine.errors import ModelLoadFailed, PromptTooLong
from services.provider.engine.local import ModelSpec
from services.provider.engine.reasoning import THINK_OPEN
from services.provider.engine.types import GenerationRequest, ModelInfo

DEFAULT_CONTEXT = 2048


def _greedy(logprobs: mx.array) -> mx.array:
    return mx.argmax(logprobs, axis=-1)


class SeededSampler:
    """Temperature/top-p sampling driven by this request's own key chain, so its tokens do not
    depend on which other requests share the batch (mlx's global PRNG would)."""

    def __init__(self, seed: int, temperature: float, top_p: float) -> None:
        self._key = mx.random.key(seed)
        self._scale = 1.0 / temperature
        self._top_p = top_p

    def __call__(self, logprobs: mx.array) -> mx.array:
        self._key, sub = mx.random.split(self._key)
        if self._top_p < 1.0:
            logprobs = apply_top_p(logprobs, self._top_p)
        return mx.random.categorical(logprobs * self._scale, key=sub)


class MlxBackend:
    """Implements `StepBackend` for one mlx-lm model directory."""

    def __init__(self, spec: ModelSpec) -> None:
        self._spec = spec
        config = _read_config(spec.path)
        try:
            self._model, _ = load_model(spec.path)
            self._tok: Any = load_tokenizer(spec.path, eos_token_ids=config.get("eos_token_id"))
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise ModelLoadFailed(
                f"{spec.id}: mlx-lm could not load the model ({type(exc).__name__})"
            ) from None
        self._eos = frozenset(self._tok.eos_token_ids)
        template = getattr(self._tok, "chat_template", None)
        self._info = ModelInfo(
            id=spec.id,
            context_length=_context_length(config, self._tok),
            supports_tools=template_supports_tools(template),
            supports_reasoning=bool(self._tok.has_thinking) or spec.thinking_prefill,
            slots=spec.slots,
        )
        self._detoks: dict[int, Any] = {}
        self._gen: Any = self._new_generator()

    @property
    def info(self) -> ModelInfo:
        return self._info

    def prepare(self, req: GenerationRequest) -> Prepared:
        start_in_reasoning = self._spec.thinking_prefill
        if req.messages is not None:
            text = self._tok.apply_chat_template(
                template_messages(req),
                tools=template_tools(req),
                add_generation_prompt=True,
                tokenize=False,
            )
            ids = self._tok.encode(text, add_special_tokens=False)
            start_in_reasoning = start_in_reasoning or text.rstrip().endswith(THINK_OPEN)
        else:
            assert req.prompt is not None
            ids = self._tok.encode(req.prompt)
        room = self._info.context_length - len(ids)
        if not ids or room < 1:
            raise PromptTooLong(
                "the prompt does not fit the model's context",
                details={"prompt_tokens": len(ids), "context_length": self._info.context_length},
            )
        return Prepared(list(ids), min(req.max_tokens, room), start_in_reasoning)

    def insert(self, prepared: Prepared, req: GenerationRequest, seed: int) -> int:
        sampler: Callable[[mx.array], mx.array] = _greedy
        if req.temperature > 0:
            sampler = SeededSampler(seed, req.temperature, req.top_p)
        (uid,) = self._gen.insert(
            [list(prepared.prompt_tokens)], max_tokens=[prepared.max_tokens], samplers=[sampler]
        )
        self._detoks[uid] = self._tok.detokenizer
        return int(uid)

    def remove(self, uid: int) -> None:
        self._gen.remove([uid])
        self._detoks.pop(uid, None)

    def step(self) -> list[TokenEvent]:
        events = []
        for r in self._gen.next_generated():
            detok = self._detoks.get(r.uid)
            if detok is None:
                continue
            if not (r.finish_reason == "stop" and r.token in self._eos):
                detok.add_token(r.token)  # the end-of-turn token is counted, never shown
            if r.finish_reason is not None:
                detok.finalize()
                del self._detoks[r.uid]
            events.append(TokenEvent(int(r.uid), detok.last_segment, r.finish_reason))
        return events

    def reset(self) -> None:
        self._gen.close()
        self._detoks.clear()
        self._gen = self._new_generator()

    def close(self) -> None:
        self._gen.close()

    def _new_generator(self) -> BatchGenerator:
        slots = self._spec.slots
        return BatchGenerator(
            self._model,
            stop_tokens=[[t] for t in sorted(self._eos)],
            sampler=_greedy,
            completion_batch_size=slots,
            prefill_batch_size=min(slots, 8),
        )


def mlx_backend_factory(spec: ModelSpec) -> Callable[[], MlxBackend]:
    return lambda: MlxBackend(spec)


def _read_config(path: Path) -> dict[str, Any]:
    if not (path / "config.json").is_file():
        raise ModelLoadFailed(
            f"no model directory at the configured path ({path.name})", code="model-missing"
        )
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError):
        raise ModelLoadFailed("config.json is not readable JSON") from None
    if not isinstance(config, dict):
        raise ModelLoadFailed("config.json is not a JSON object")
    return config


def _context_length(config: dict[str, Any], tok: Any) -> int:
    for value in (config.get("max_position_embeddings"), getattr(tok, "model_max_length", None)):
        if isinstance(value, int) and 0 < value < 10**7:
            return value
    return DEFAULT_CONTEXT
