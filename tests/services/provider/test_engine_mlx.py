"""The real mlx-lm engine on the tiny model: counts, determinism, batching, stops, cancel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from services.provider.engine import (
    Delta,
    EngineConfig,
    Finish,
    GenerationRequest,
    LocalEngine,
    ModelSpec,
    ResponseFormat,
    load_engine,
)

SLOTS = 8
CONVERSATION = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "ka lo mi"},
    {"role": "assistant", "content": "ne su ta."},
    {"role": "user", "content": "ri po de an el?"},
]
TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}


@pytest.fixture(scope="session")
def tokenizer(tiny_model_dir: Path) -> Any:
    from mlx_lm.tokenizer_utils import load

    return load(tiny_model_dir)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def engine(tiny_model_dir: Path) -> AsyncIterator[LocalEngine]:
    eng = await load_engine(EngineConfig((ModelSpec("tiny", tiny_model_dir, slots=SLOTS),)))
    yield eng
    await eng.stop()


def ask(text: str, **kw: Any) -> GenerationRequest:
    return GenerationRequest("tiny", messages=[{"role": "user", "content": text}], **kw)


async def run(engine: LocalEngine, req: GenerationRequest) -> tuple[str, Finish]:
    parts: list[str] = []
    async for item in engine.generate(req):
        if isinstance(item, Finish):
            return "".join(parts), item
        parts.append(item.text)
    raise AssertionError("no Finish")


def prompt_len(tokenizer: Any, messages: list[dict[str, Any]], **kw: Any) -> int:
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False, **kw)
    return len(tokenizer.encode(text, add_special_tokens=False))


async def test_length_and_exact_token_counts(engine: LocalEngine, tokenizer: Any) -> None:
    text, finish = await run(
        engine, GenerationRequest("tiny", messages=CONVERSATION, max_tokens=17, temperature=0)
    )
    assert finish.reason == "length" and finish.ok
    assert finish.completion_tokens == 17
    # Every turn, system prompt included, reaches the template (not one flattened user turn).
    assert finish.prompt_tokens == prompt_len(tokenizer, CONVERSATION)
    assert text
    raw = "ka lo mi ne su"
    _, finish = await run(
        engine, GenerationRequest("tiny", prompt=raw, max_tokens=3, temperature=0)
    )
    assert finish.prompt_tokens == len(tokenizer.encode(raw))


async def test_tools_reach_the_chat_template(engine: LocalEngine, tokenizer: Any) -> None:
    req = ask("ka lo", tools=[TOOL], max_tokens=2, temperature=0)
    _, finish = await run(engine, req)
    messages = [{"role": "user", "content": "ka lo"}]
    assert finish.prompt_tokens == prompt_len(tokenizer, messages, tools=[TOOL])
    assert finish.prompt_tokens > prompt_len(tokenizer, messages)
    assert engine.models()[0].supports_tools


async def test_greedy_is_deterministic_and_batched_equals_sequential(engine: LocalEngine) -> None:
    prompts = [f"ka lo mi {'ne su ' * i}ta" for i in range(SLOTS)]
    sequential = [await run(engine, ask(p, max_tokens=24, temperature=0)) for p in prompts]
    batched = await asyncio.gather(
        *(run(engine, ask(p, max_tokens=24, temperature=0)) for p in prompts)
    )
    assert [t for t, _ in batched] == [t for t, _ in sequential]
    assert [f.completion_tokens for _, f in batched] == [24] * SLOTS
    assert len({t for t, _ in sequential}) > 1  # different prompts, different junk


async def test_seed_makes_sampling_reproducible_even_when_batched(engine: LocalEngine) -> None:
    req = ask("ka lo mi", max_tokens=30, temperature=0.8, seed=7)
    alone, _ = await run(engine, req)
    again, _ = await run(engine, req)
    crowd = await asyncio.gather(
        run(engine, req),
        *(run(engine, ask(f"qu st {i}", max_tokens=30, temperature=0.8, seed=i)) for i in range(5)),
        run(engine, ask("ri po", max_tokens=30, temperature=0)),
    )
    other, _ = await run(engine, ask("ka lo mi", max_tokens=30, temperature=0.8, seed=8))
    assert alone == again == crowd[0][0]
    assert other != alone
    nucleus = ask("ka lo mi", max_tokens=30, temperature=0.8, top_p=0.5, seed=7)
    assert (await run(engine, nucleus))[0] == (await run(engine, nucleus))[0]


async def test_stop_sequence_from_known_output_never_leaks(engine: LocalEngine) -> None:
    base = ask("ka lo mi", max_tokens=40, temperature=0.8, seed=7)
    text, _ = await run(engine, base)
    stop = text[12:16]
    assert len(stop) == 4 and stop in text
    cut, finish = await run(
        engine, ask("ka lo mi", max_tokens=40, temperature=0.8, seed=7, stop=[stop])
    )
    assert cut == text[: text.index(stop)]
    assert finish.reason == "stop" and finish.completion_tokens < 40


async def test_cancel_frees_the_slot_without_disturbing_others(engine: LocalEngine) -> None:
    solo, _ = await run(engine, ask("ta ri po", max_tokens=40, temperature=0))
    long_one = engine.generate(ask("ka ka", max_tokens=400, temperature=0.8, seed=1))
    neighbour = asyncio.create_task(run(engine, ask("ta ri po", max_tokens=40, temperature=0)))
    first = await long_one.__anext__()
    assert isinstance(first, Delta)
    long_one.cancel()
    finish = None
    async for item in long_one:
        finish = item
    assert isinstance(finish, Finish) and finish.reason == "cancelled"
    assert finish.completion_tokens < 400
    text, done = await neighbour
    assert text == solo and done.reason == "length"
    assert engine.free_slots() == SLOTS


async def test_prompt_too_long_is_a_clean_error(engine: LocalEngine) -> None:
    _, finish = await run(engine, ask("ka " * 2000, max_tokens=5))
    assert (finish.reason, finish.error_code) == ("error", "context_length_exceeded")
    assert finish.completion_tokens == 0
    _, ok = await run(engine, ask("ka", max_tokens=2))
    assert ok.reason == "length"


async def test_response_format_is_validated_and_reported(engine: LocalEngine) -> None:
    req = ask("ka lo", max_tokens=8, temperature=0, response_format=ResponseFormat("json_object"))
    _, finish = await run(engine, req)
    assert finish.format_ok is False and finish.format_error == "not_json"  # random weights


async def test_broken_model_dirs_are_faults_not_crashes(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        (corrupt / name).write_bytes((tiny_model_dir / name).read_bytes())
    (corrupt / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    bad_json = tmp_path / "bad-json"
    bad_json.mkdir()
    (bad_json / "config.json").write_text("{nope")
    specs = (
        ModelSpec("tiny", tiny_model_dir, slots=1),
        ModelSpec("corrupt", corrupt),
        ModelSpec("bad-json", bad_json),
        ModelSpec("missing", tmp_path / "missing"),
    )
    eng = await load_engine(EngineConfig(specs))
    try:
        faults = eng.faults()
        assert {k: v.code for k, v in faults.items()} == {
            "corrupt": "model-load-failed",
            "bad-json": "model-load-failed",
            "missing": "model-missing",
        }
        assert [m.id for m in eng.models()] == ["tiny"]
        _, finish = await run(eng, ask("ka", max_tokens=2))
        assert finish.reason == "length"
    finally:
        await eng.stop()
