"""Pure output logic: stop strings, the <think> splitter, tool-call parsing, the pipeline."""

from __future__ import annotations

import itertools
import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.provider.engine import Delta, GenerationRequest, ResponseFormat, coalesce
from services.provider.engine.formats import check_output
from services.provider.engine.pipeline import OutputPipeline
from services.provider.engine.reasoning import ThinkSplitter
from services.provider.engine.stops import StopMatcher
from services.provider.engine.tools import ToolCallParser, parse_call


def chunked(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    return [text[a:b] for a, b in itertools.pairwise(points)]


def run_think(text: str, cuts: list[int], *, inside: bool = False) -> list[tuple[str, str]]:
    splitter = ThinkSplitter(start_inside=inside)
    pieces = [p for chunk in chunked(text, cuts) for p in splitter.feed(chunk)]
    pieces += splitter.flush()
    merged: list[tuple[str, str]] = []
    for channel, piece in pieces:
        if merged and merged[-1][0] == channel:
            merged[-1] = (channel, merged[-1][1] + piece)
        else:
            merged.append((channel, piece))
    return merged


@given(st.lists(st.integers(0, 200), max_size=12))
def test_think_split_is_independent_of_chunking(cuts: list[int]) -> None:
    text = "pre <thi<think>plan <think>a</thin b</think> answer <th"
    assert run_think(text, cuts) == [
        ("content", "pre <thi"),
        ("reasoning", "plan a</thin b"),
        ("content", " answer <th"),
    ]


def test_think_prefilled_model_starts_inside() -> None:
    assert run_think("hidden</think>shown", [3, 9]) == [("content", "hidden</think>shown")]
    assert run_think("hidden</think>shown", [3, 9], inside=True) == [
        ("reasoning", "hidden"),
        ("content", "shown"),
    ]


def test_think_unclosed_block_flushes_as_reasoning() -> None:
    assert run_think("<think>still thinking </th", [2, 11]) == [
        ("reasoning", "still thinking </th")
    ]


@given(st.lists(st.integers(0, 100), max_size=10))
def test_stop_string_across_chunk_boundaries_never_leaks(cuts: list[int]) -> None:
    matcher = StopMatcher(["END", "zz"])
    out = "".join(matcher.feed(c) for c in chunked("abc EN ENDx zz", cuts)) + matcher.flush()
    assert out == "abc EN "
    assert matcher.stopped


def test_stop_earliest_occurrence_wins_and_held_prefix_is_released_at_end() -> None:
    matcher = StopMatcher(["bcd", "cx"])
    assert matcher.feed("abcx") == "ab"
    held = StopMatcher(["STOP"])
    assert held.feed("go ST") == "go "
    assert held.flush() == "ST"


def new_ids() -> object:
    counter = iter(range(100))
    return lambda: f"call_{next(counter)}"


def test_tool_call_parser_streams_calls_and_keeps_bad_blocks_as_text() -> None:
    parser = ToolCallParser(new_ids(), allowed=frozenset({"get_weather"}))  # type: ignore[arg-type]
    text = (
        'Sure. <tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
        "<tool_call>not json</tool_call>"
        '<tool_call>{"name": "rm_rf", "arguments": {}}</tool_call><tool_ca'
    )
    deltas = [d for c in chunked(text, [5, 17, 40, 41, 90, 120]) for d in parser.feed(c)]
    deltas += parser.flush()
    calls = [d.tool_call for d in deltas if d.tool_call is not None]
    assert [(c.id, c.name, json.loads(c.arguments)) for c in calls] == [
        ("call_0", "get_weather", {"city": "Paris"})
    ]
    content = "".join(d.text for d in deltas if d.channel == "content")
    assert content == (
        "Sure. <tool_call>not json</tool_call>"
        '<tool_call>{"name": "rm_rf", "arguments": {}}</tool_call><tool_ca'
    )
    tool_delta = next(d for d in deltas if d.channel == "tool_call")
    assert json.loads(tool_delta.text)["function"]["name"] == "get_weather"


def test_parse_call_accepts_string_arguments_and_rejects_non_objects() -> None:
    call = parse_call('{"name": "f", "arguments": "{\\"a\\": 1}"}', call_id="x", index=2)
    assert call is not None and call.arguments == '{"a":1}' and call.index == 2
    assert parse_call('{"name": "f", "arguments": [1]}', call_id="x", index=0) is None
    assert parse_call("[]", call_id="x", index=0) is None


def chat(**kw: object) -> GenerationRequest:
    return GenerationRequest("m", messages=[{"role": "user", "content": "hi"}], **kw)  # type: ignore[arg-type]


def test_pipeline_reasoning_tools_and_finish_reason() -> None:
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {}}}]
    pipe = OutputPipeline(chat(tools=tools), start_in_reasoning=False, new_id=lambda: "call_a")
    script = [
        "<th",
        "ink>let me",
        " look</think>",
        "<tool_",
        'call>{"name": "lookup", ',
        '"arguments": {"q": 1}}</tool_call>',
    ]
    deltas = [d for piece in script for d in pipe.feed(piece)]
    tail, finish = pipe.finish("stop", prompt_tokens=5, completion_tokens=len(script) + 1)
    deltas += tail
    assert [(d.channel, d.text) for d in coalesce(deltas) if d.channel != "tool_call"] == [
        ("reasoning", "let me look")
    ]
    assert finish.reason == "tool_calls" and finish.completion_tokens == 7
    assert [c.name for c in finish.tool_calls] == ["lookup"]


def test_pipeline_stop_string_ends_reasoning_too_and_length_flushes() -> None:
    pipe = OutputPipeline(chat(stop=["##"]), start_in_reasoning=True, new_id=lambda: "c")
    deltas = pipe.feed("abc#") + pipe.feed("#def")
    assert pipe.stopped and [(d.channel, d.text) for d in deltas] == [("reasoning", "abc")]
    pipe2 = OutputPipeline(chat(stop=["##"]), start_in_reasoning=False, new_id=lambda: "c")
    deltas = pipe2.feed("x#")
    tail, finish = pipe2.finish("length", prompt_tokens=1, completion_tokens=1)
    assert "".join(d.text for d in deltas + tail) == "x#" and finish.reason == "length"


def test_pipeline_without_tools_leaves_tool_markup_as_content() -> None:
    pipe = OutputPipeline(chat(), start_in_reasoning=False, new_id=lambda: "c")
    text = '<tool_call>{"name": "f", "arguments": {}}</tool_call>'
    deltas = pipe.feed(text)
    _, finish = pipe.finish("stop", prompt_tokens=1, completion_tokens=1)
    assert "".join(d.text for d in deltas) == text and finish.reason == "stop"


@pytest.mark.parametrize(
    ("fmt", "text", "verdict"),
    [
        (None, "anything", (None, None)),
        (ResponseFormat("json_object"), '{"a": 1}', (True, None)),
        (ResponseFormat("json_object"), "[1]", (False, "not_object")),
        (ResponseFormat("json_object"), "nope", (False, "not_json")),
        (
            ResponseFormat("json_schema", {"type": "object", "required": ["a"]}),
            "{}",
            (False, "schema:required"),
        ),
        (ResponseFormat("json_schema", {"type": "array"}), "[]", (True, None)),
    ],
)
def test_response_format_validation(
    fmt: ResponseFormat | None, text: str, verdict: tuple[bool | None, str | None]
) -> None:
    assert check_output(text, fmt) == verdict


def test_pipeline_reports_format_verdict() -> None:
    req = chat(response_format=ResponseFormat("json_object"))
    pipe = OutputPipeline(req, start_in_reasoning=False, new_id=lambda: "c")
    pipe.feed('{"ok"')
    pipe.feed(": true}")
    _, finish = pipe.finish("stop", prompt_tokens=1, completion_tokens=2)
    assert finish.format_ok is True and finish.format_error is None


def test_coalesce_merges_same_channel_only() -> None:
    items = [
        Delta("content", "a"),
        Delta("content", "b"),
        Delta("reasoning", "c"),
        Delta("content", "d"),
    ]
    assert coalesce(items) == [
        Delta("content", "ab"),
        Delta("reasoning", "c"),
        Delta("content", "d"),
    ]


def test_random_scripts_never_lose_or_duplicate_text() -> None:
    rng = random.Random(5)
    alphabet = ["a", "<", "think", ">", "/", " ", "<think>", "</think>"]
    for _ in range(200):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        cuts = [rng.randint(0, 40) for _ in range(rng.randint(0, 8))]
        once = run_think(text, [])
        assert run_think(text, cuts) == once
