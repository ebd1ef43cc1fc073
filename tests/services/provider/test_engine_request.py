"""Request validation and chat-template input: bad input is refused, structure is kept."""

from __future__ import annotations

from typing import Any

import pytest

from services.provider.engine import GenerationRequest, InvalidGenerationRequest, ResponseFormat
from services.provider.engine.chat import template_messages, template_tools
from services.provider.engine.formats import check_schema

USER = [{"role": "user", "content": "hi"}]
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}


@pytest.mark.parametrize(
    "kw",
    [
        {"messages": None},
        {"prompt": "x"},  # both messages and prompt
        {"messages": []},
        {"messages": [{"role": "wizard", "content": "x"}]},
        {"max_tokens": 0},
        {"max_tokens": True},
        {"temperature": -0.1},
        {"temperature": float("nan")},
        {"top_p": 0.0},
        {"seed": -1},
        {"seed": 2**63},
        {"stop": "END"},
        {"stop": [""]},
        {"stop": ["x"] * 17},
        {"tools": [{"type": "function", "function": {}}]},
        {"tool_choice": "sometimes"},
        {"tool_choice": "required"},
        {"tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "g"}}},
    ],
)
def test_bad_requests_are_refused_with_a_clear_error(kw: dict[str, Any]) -> None:
    args: dict[str, Any] = {"messages": USER, **kw}
    with pytest.raises(InvalidGenerationRequest) as err:
        GenerationRequest("m", **args)
    assert err.value.code == "invalid_generation_request"


def test_response_format_parsing_and_schema_check() -> None:
    fmt = ResponseFormat.from_openai(
        {"type": "json_schema", "json_schema": {"schema": {"type": "object"}}}
    )
    assert fmt == ResponseFormat("json_schema", {"type": "object"}, None)
    with pytest.raises(InvalidGenerationRequest):
        ResponseFormat.from_openai({"type": "yaml"})
    with pytest.raises(InvalidGenerationRequest):
        check_schema(ResponseFormat("json_schema", {"type": 12}))


def test_template_messages_keep_every_turn_and_add_instructions_to_the_system_turn() -> None:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "Be terse."},
        {
            "role": "user",
            "content": [{"type": "text", "text": "What is "}, {"type": "text", "text": "2+2?"}],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "4"},
    ]
    req = GenerationRequest(
        "m",
        messages=messages,
        tools=[TOOL],
        tool_choice="required",
        response_format=ResponseFormat("json_object"),
    )
    out = template_messages(req)
    assert [m["role"] for m in out] == ["system", "user", "assistant", "tool"]
    assert out[0]["content"].startswith("Be terse.\n\nRespond with a single JSON object")
    assert out[0]["content"].endswith("You must call one of the available functions.")
    assert out[1]["content"] == "What is 2+2?"
    assert out[2]["tool_calls"][0]["function"]["arguments"] == {"x": 1}
    assert out[3] == {"role": "tool", "content": "4", "tool_call_id": "c1"}
    assert template_tools(req) == [TOOL]


def test_no_system_turn_gets_a_new_one_and_forced_tool_narrows_the_list() -> None:
    other = {"type": "function", "function": {"name": "g"}}
    req = GenerationRequest(
        "m",
        messages=USER,
        tools=[TOOL, other],
        tool_choice={"type": "function", "function": {"name": "g"}},
    )
    out = template_messages(req)
    assert out[0] == {"role": "system", "content": "You must call the function g."}
    assert out[1:] == USER
    assert template_tools(req) == [other]
    assert (
        template_tools(GenerationRequest("m", messages=USER, tools=[TOOL], tool_choice="none"))
        is None
    )


def test_images_are_refused() -> None:
    image = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:"}}]}]
    with pytest.raises(InvalidGenerationRequest):
        template_messages(GenerationRequest("m", messages=image))
