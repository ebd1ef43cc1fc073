"""The scheduler through the fake engine: slots, cancellation, busy, faults, tools, reasoning."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from services.provider.engine import (
    Delta,
    EngineNotRunning,
    Finish,
    GenerationRequest,
    LocalEngine,
    ModelNotServed,
    ToolsUnsupported,
)
from services.provider.engine.fake import (
    echo_script,
    endless_script,
    fixed_script,
    start_fake_engine,
)

TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {}}}


def ask(model: str, text: str = "hello", **kw: object) -> GenerationRequest:
    return GenerationRequest(model, messages=[{"role": "user", "content": text}], **kw)  # type: ignore[arg-type]


async def collect(stream: AsyncIterator[Delta | Finish]) -> tuple[list[Delta], Finish]:
    deltas: list[Delta] = []
    async for item in stream:
        if isinstance(item, Finish):
            return deltas, item
        deltas.append(item)
    raise AssertionError("stream ended without a Finish")


async def slots_free(engine: LocalEngine, model: str, n: int) -> bool:
    """Whether `model` gets back to `n` free slots within 2 s (a cancel lands in a step)."""
    for _ in range(200):
        if engine.free_slots(model) == n:
            return True
        await asyncio.sleep(0.01)
    return engine.free_slots(model) == n


def text_of(deltas: list[Delta], channel: str = "content") -> str:
    return "".join(d.text for d in deltas if d.channel == channel)


@pytest_asyncio.fixture(loop_scope="session")
async def engine() -> AsyncIterator[LocalEngine]:
    scripts = {
        "echo": echo_script,
        "slow": endless_script(),
        "thinker": fixed_script("<thi", "nk>weigh", "ing</th", "ink>", "The answer", "."),
        "caller": fixed_script(
            "<tool_call>",
            '{"name": "get_weather",',
            ' "arguments": {"city": "Paris"}}',
            "</tool_call>",
        ),
    }
    eng = await start_fake_engine(
        scripts, slots=2, max_waiting=1, step_delay_s=0.002, faults={"broken": "model-load-failed"}
    )
    yield eng
    await eng.stop()


async def test_echo_answer_counts_and_faults(engine: LocalEngine) -> None:
    deltas, finish = await collect(engine.generate(ask("echo", "hello world")))
    assert text_of(deltas) == "Echo: hello world"
    assert finish.reason == "stop" and finish.ok
    assert finish.prompt_tokens == 5  # 2 words + 3 per message
    assert finish.completion_tokens == 5 + 1  # 5 pieces + the end-of-turn token
    assert engine.faults()["broken"].code == "model-load-failed"
    assert {m.id for m in engine.models()} == {"echo", "slow", "thinker", "caller"}
    with pytest.raises(ModelNotServed):
        engine.generate(ask("broken"))


async def test_max_tokens_ends_with_length(engine: LocalEngine) -> None:
    deltas, finish = await collect(engine.generate(ask("slow", max_tokens=7)))
    assert (finish.reason, finish.completion_tokens, text_of(deltas)) == ("length", 7, "ab" * 7)


async def test_stop_string_spanning_pieces(engine: LocalEngine) -> None:
    deltas, finish = await collect(engine.generate(ask("echo", "one two three", stop=["o t"])))
    assert text_of(deltas) == "Echo: one tw"  # pieces "e tw" + "o th": the stop spans them
    assert finish.reason == "stop"


async def test_reasoning_split_and_tool_calls(engine: LocalEngine) -> None:
    deltas, finish = await collect(engine.generate(ask("thinker")))
    assert text_of(deltas, "reasoning") == "weighing" and text_of(deltas) == "The answer."
    deltas, finish = await collect(engine.generate(ask("caller", tools=[TOOL])))
    assert finish.reason == "tool_calls"
    assert finish.completion_tokens == 4 + 1  # tool-call markup is billed like any output
    (call,) = finish.tool_calls
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}
    assert call.id.startswith("call_")
    assert [json.loads(d.text)["id"] for d in deltas if d.channel == "tool_call"] == [call.id]
    assert text_of(deltas) == ""


async def test_cancel_frees_the_slot_and_others_continue(engine: LocalEngine) -> None:
    assert engine.free_slots("slow") == 2
    victim = engine.generate(ask("slow", max_tokens=100_000))
    other = engine.generate(ask("slow", max_tokens=50))
    first = await victim.__anext__()
    assert isinstance(first, Delta)
    assert engine.free_slots("slow") == 0
    victim.cancel()
    _rest, finish = await collect(victim)
    assert finish.reason == "cancelled" and not finish.ok
    assert 1 <= finish.completion_tokens < 100_000
    deltas, done = await collect(other)
    assert (done.reason, text_of(deltas)) == ("length", "ab" * 50)
    assert engine.free_slots("slow") == 2


async def test_aclose_and_task_cancellation_free_the_slot(engine: LocalEngine) -> None:
    async with engine.generate(ask("slow", max_tokens=100_000)) as stream:
        await stream.__anext__()
    task = asyncio.create_task(collect(engine.generate(ask("slow", max_tokens=100_000))))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await slots_free(engine, "slow", 2)


async def test_waiting_queue_then_busy(engine: LocalEngine) -> None:
    streams = [engine.generate(ask("slow", max_tokens=100_000)) for _ in range(3)]
    busy = engine.generate(ask("slow"))
    _, finish = await collect(busy)
    assert (finish.reason, finish.error_code) == ("error", "engine_busy")
    for s in streams:
        s.cancel()
    results = [await collect(s) for s in streams]
    assert [f.reason for _, f in results] == ["cancelled"] * 3
    assert results[2][1].completion_tokens == 0  # it was still waiting for a slot


async def test_next_items_returns_what_arrived_until_the_finish(engine: LocalEngine) -> None:
    stream = engine.generate(ask("echo", "a much longer sentence to echo back"))
    batches = []
    while batch := await stream.next_items():
        batches.append(batch)
    items = [i for b in batches for i in b]
    assert isinstance(items[-1], Finish) and not any(isinstance(i, Finish) for i in items[:-1])
    assert (
        "".join(i.text for i in items if isinstance(i, Delta))
        == "Echo: a much longer sentence to echo back"
    )
    assert await stream.next_items() == []  # done stays done


async def test_next_items_deadline_returns_empty_and_the_generation_goes_on() -> None:
    eng = await start_fake_engine({"slow": endless_script()}, step_delay_s=0.05)
    try:
        stream = eng.generate(ask("slow", max_tokens=3))
        loop = asyncio.get_running_loop()
        assert await stream.next_items(loop.time() + 0.001) == []  # before the first step
        items: list[Delta | Finish] = []
        while not items or not isinstance(items[-1], Finish):
            items += await stream.next_items(loop.time() + 1.0)
        finish = items[-1]
        assert isinstance(finish, Finish) and finish.reason == "length"
        assert finish.completion_tokens == 3  # the timeout did not cancel it
    finally:
        await eng.stop()


async def test_next_items_cancelled_cancels_the_generation() -> None:
    eng = await start_fake_engine({"slow": endless_script()}, step_delay_s=0.05, slots=1)
    try:
        stream = eng.generate(ask("slow", max_tokens=100_000))
        task = asyncio.create_task(stream.next_items())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await slots_free(eng, "slow", 1)
    finally:
        await eng.stop()


async def test_refusals_are_synchronous() -> None:
    eng = await start_fake_engine({"plain": echo_script}, tools=False)
    with pytest.raises(ToolsUnsupported):
        eng.generate(ask("plain", tools=[TOOL]))
    _, finish = await collect(eng.generate(ask("plain", tools=[TOOL], tool_choice="none")))
    assert finish.reason == "stop"
    await eng.stop()
    with pytest.raises(EngineNotRunning):
        eng.generate(ask("plain"))


async def test_stop_ends_running_jobs_with_an_error() -> None:
    eng = await start_fake_engine({"slow": endless_script()}, step_delay_s=0.002)
    stream = eng.generate(ask("slow", max_tokens=100_000))
    await stream.__anext__()
    await eng.stop()
    _, finish = await collect(stream)
    assert (finish.reason, finish.error_code) == ("error", "engine_stopped")


async def test_a_dropped_stream_cancels_its_generation(engine: LocalEngine) -> None:
    stream = engine.generate(ask("slow", max_tokens=100_000))
    await stream.__anext__()
    del stream  # never read to the end, never closed
    assert await slots_free(engine, "slow", 2)
