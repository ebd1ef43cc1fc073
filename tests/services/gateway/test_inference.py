"""Parsing OpenAI bodies: what is honoured, what is refused (a 400 naming the field)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cocore.crypto import sha256_hex
from services.gateway.config import Limits
from services.gateway.errors import InvalidRequest
from services.gateway.inference import parse_chat, parse_completion
from services.gateway.pricing import TokenRate, ceiling, input_token_bound, rate_price

LIMITS = Limits()
USER = [{"role": "user", "content": "hi"}]


def chat(**fields: Any) -> Any:
    return parse_chat({"model": "m", "messages": USER, **fields}, LIMITS, None)


def refused(body: dict[str, Any], param: str, *, completion: bool = False) -> None:
    with pytest.raises(InvalidRequest) as caught:
        if completion:
            parse_completion(body, LIMITS)
        else:
            parse_chat(body, LIMITS, None)
    assert caught.value.param == param, caught.value.message
    assert caught.value.status == 400


def test_chat_builds_the_canonical_envelope_and_honours_every_field() -> None:
    req = chat(
        max_completion_tokens=7, temperature=0.5, top_p=0.9, seed=42, stop="END", user="u1",
        stream=True, stream_options={"include_usage": True}, unknown_field={"ignored": 1},
        country="se", min_provider_version="v1.2.3", min_trust="self-attested",
        friends_only=True, provider="did:plc:abc",
    )  # fmt: skip
    assert req.input_format == "messages-v1"
    assert json.loads(req.input_bytes) == {"messages": [{"content": "hi", "role": "user"}], "v": 1}
    assert req.input_bytes == b'{"messages":[{"content":"hi","role":"user"}],"v":1}'
    s = req.sampling
    assert (s.max_tokens, s.temperature, s.top_p, s.seed, s.stop) == (7, 0.5, 0.9, 42, ("END",))
    assert req.stream and req.include_usage and req.user == "u1"
    r = req.routing
    assert (r.country, r.min_version, r.friends_only, r.provider) == (
        "SE",
        "1.2.3",
        True,
        "did:plc:abc",
    )


def test_the_salt_makes_the_commitment_unguessable_but_keeps_the_bytes_canonical() -> None:
    a = parse_chat({"model": "m", "messages": USER}, LIMITS, "00" * 16)
    b = parse_chat({"model": "m", "messages": USER}, LIMITS, "11" * 16)
    assert sha256_hex(a.input_bytes) != sha256_hex(b.input_bytes)
    assert json.loads(a.input_bytes)["salt"] == "00" * 16


def test_images_tools_and_tool_turns_reach_the_envelope() -> None:
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "what is"},
                                     {"type": "image_url",
                                      "image_url": {"url": "data:image/png;base64,iVBORw0K"}}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
    ]  # fmt: skip
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    req = parse_chat({"model": "m", "messages": messages, "tools": [tool],
                      "tool_choice": {"type": "function", "function": {"name": "f"}}},
                     LIMITS, None)  # fmt: skip
    env = json.loads(req.input_bytes)["messages"]
    assert env[0]["content"][1] == {"data": "iVBORw0K", "mime": "image/png", "type": "image"}
    assert env[1]["tool_calls"][0]["function"] == {"arguments": "{}", "name": "f"}
    assert env[2]["tool_call_id"] == "c1"
    assert (req.tool_choice, req.tool_choice_function, req.needs_tools) == ("required", "f", True)


def test_response_formats() -> None:
    assert chat(response_format={"type": "text"}).output_schema is None
    assert chat(response_format={"type": "json_object"}).output_schema == {
        "name": "json_object", "schema": {"type": "object"}}  # fmt: skip
    schema = {"type": "json_schema", "json_schema": {"name": "n", "strict": True,
                                                     "schema": {"type": "object"}}}  # fmt: skip
    assert chat(response_format=schema).output_schema == {
        "name": "n", "strict": True, "schema": {"type": "object"}}  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"model": 3}, "model"),
        ({"model": ""}, "model"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url",
                        "image_url": {"url": "https://example.com/a.png"}}]}]},
         "messages[0].content[0].image_url.url"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 10**9}, "max_tokens"),
        ({"max_tokens": True}, "max_tokens"),
        ({"temperature": 3}, "temperature"),
        ({"temperature": "hot"}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"seed": -1}, "seed"),
        ({"stop": [""]}, "stop"),
        ({"stop": ["a"] * 17}, "stop"),
        ({"n": 2}, "n"),
        ({"logprobs": True}, "logprobs"),
        ({"stream": "yes"}, "stream"),
        ({"stream_options": {"include_usage": 1}}, "stream_options.include_usage"),
        ({"tools": [{"type": "retrieval"}]}, "tools[0].type"),
        ({"tools": [{"type": "function", "function": {"name": "bad name"}}]},
         "tools[0].function.name"),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice"),
        ({"response_format": {"type": "xml"}}, "response_format.type"),
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "n",
          "schema": {"maximum": 1.5}}}}, "response_format.json_schema"),
        ({"country": "Sweden"}, "country"),
        ({"min_provider_version": "latest"}, "min_provider_version"),
        ({"min_trust": "blind-faith"}, "min_trust"),
        ({"provider": "not-a-did"}, "provider"),
        ({"friends_only": "yes"}, "friends_only"),
        ({"user": 7}, "user"),
    ],
)  # fmt: skip
def test_invalid_fields_are_named(fields: dict[str, Any], param: str) -> None:
    refused({"model": "m", "messages": USER, **fields}, param)


def test_not_an_object() -> None:
    refused([], "body")  # type: ignore[arg-type]


def test_completions() -> None:
    req = parse_completion({"model": "m", "prompt": ["once"], "max_tokens": 3}, LIMITS)
    assert (req.input_format, req.input_bytes, req.sampling.max_tokens) == ("text", b"once", 3)
    assert parse_completion({"model": "m", "prompt": "x"}, LIMITS).sampling.max_tokens == 16
    refused({"model": "m", "prompt": ["a", "b"]}, "prompt", completion=True)
    refused({"model": "m", "prompt": "x", "echo": True}, "echo", completion=True)
    refused({"model": "m", "prompt": "x", "suffix": "s"}, "suffix", completion=True)


def test_the_ceiling_is_tight_and_covers_the_rate_price() -> None:
    rate = TokenRate(1_000_000, 2_000_000, "CC")
    bound = input_token_bound(input_bytes=100, spec_bytes=10, messages=2)
    assert bound == 100 + 20 + 64 + 512
    assert ceiling(bound, 50, rate) == bound + 100 + 1
    # Whatever the provider really counts (up to the bounds), the price fits the ceiling.
    assert rate_price(bound, 50, rate) < ceiling(bound, 50, rate)
    assert rate_price(3, 1, TokenRate(333_333, 0, "CC")) == 0  # floored like the exchange
