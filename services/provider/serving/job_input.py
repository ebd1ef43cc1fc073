"""The opened input bytes → a GenerationRequest: `text` is a raw prompt, `messages-v1` a chat.

`messages-v1` is the canonical envelope `{"v": 1, "messages": [{role, content, tool_calls?,
tool_call_id?}]}` (crypto.md §8) with string content or text/image parts. Image parts are
refused with a clear code: no model this agent serves takes images.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cocore.canonical import CanonicalError, loads_strict

from ..engine import GenerationRequest, InvalidGenerationRequest, ResponseFormat
from ..link import JobFailure, JobRequest

MAX_MESSAGES = 256
ROLES = ("system", "developer", "user", "assistant", "tool")


def generation_request(job: JobRequest, plaintext: bytes) -> GenerationRequest:
    """JobFailure("invalid_request" | "images_unsupported") for input the engine cannot take."""
    prompt: str | None = None
    messages: list[dict[str, Any]] | None = None
    if job.input_format == "text":
        prompt = _utf8(plaintext)
    elif job.input_format == "messages-v1":
        messages = parse_messages_v1(plaintext)
    else:
        raise JobFailure("invalid_request", "unknown input format")
    try:
        return GenerationRequest(
            model=job.model, messages=messages, prompt=prompt, max_tokens=job.max_tokens,
            temperature=_milli(job.temperature_milli, 1.0), top_p=_milli(job.top_p_milli, 1.0),
            seed=job.seed, stop=job.stop, tools=list(job.tools or ()),
            tool_choice=_tool_choice(job), response_format=_response_format(job.output_schema),
        )  # fmt: skip
    except InvalidGenerationRequest as e:
        raise JobFailure("invalid_request", e.message) from None


def parse_messages_v1(plaintext: bytes) -> list[dict[str, Any]]:
    try:
        envelope = loads_strict(_utf8(plaintext))
    except CanonicalError:
        raise JobFailure("invalid_request", "messages-v1 input is not valid JSON") from None
    if not isinstance(envelope, dict) or envelope.get("v") != 1:
        raise JobFailure("invalid_request", "messages-v1 input must be {v: 1, messages: […]}")
    messages = envelope.get("messages")
    if not isinstance(messages, list) or not 0 < len(messages) <= MAX_MESSAGES:
        raise JobFailure("invalid_request", f"messages-v1 needs 1..{MAX_MESSAGES} messages")
    return [_message(i, m) for i, m in enumerate(messages)]


def _message(index: int, message: Any) -> dict[str, Any]:
    if not isinstance(message, dict) or message.get("role") not in ROLES:
        raise JobFailure("invalid_request", f"messages[{index}] needs a known role")
    content = message.get("content")
    if isinstance(content, list):
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "image":
                raise JobFailure("images_unsupported", "the model does not take images")
            if kind != "text" or not isinstance(part.get("text"), str):
                raise JobFailure("invalid_request", f"messages[{index}] has an unknown part")
    elif content is not None and not isinstance(content, str):
        raise JobFailure("invalid_request", f"messages[{index}].content must be text or parts")
    out = {"role": message["role"], "content": content if content is not None else ""}
    for key in ("tool_calls", "tool_call_id", "name"):
        if message.get(key) is not None:
            out[key] = message[key]
    return out


def _utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise JobFailure("invalid_request", "the input is not UTF-8") from None


def _milli(value: int | None, default: float) -> float:
    return default if value is None else value / 1000


def _tool_choice(job: JobRequest) -> str | dict[str, Any]:
    if job.tool_choice_function and job.tool_choice in ("", "required"):
        return {"type": "function", "function": {"name": job.tool_choice_function}}
    return job.tool_choice or "auto"


def _response_format(schema: Mapping[str, Any] | None) -> ResponseFormat | None:
    if schema is None:
        return None
    inner = schema.get("schema", {})
    if not isinstance(inner, Mapping):
        raise JobFailure("invalid_request", "outputSchema.schema must be an object")
    name = schema.get("name")
    return ResponseFormat("json_schema", dict(inner), name if isinstance(name, str) else None)
