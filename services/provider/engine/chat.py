"""Turns an OpenAI-shaped request into chat-template input, keeping every turn and role."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from services.provider.engine.errors import InvalidGenerationRequest
from services.provider.engine.formats import format_instruction
from services.provider.engine.types import GenerationRequest


def template_messages(req: GenerationRequest) -> list[dict[str, Any]]:
    """The messages as a chat template expects them, plus our instructions (if any) appended
    to the first system message (or in a new one, so the user's turns stay untouched)."""
    assert req.messages is not None
    messages = [_normalise(i, m) for i, m in enumerate(req.messages)]
    extra = [s for s in (format_instruction(req.response_format), _tool_instruction(req)) if s]
    if not extra:
        return messages
    note = "\n\n".join(extra)
    if messages[0]["role"] in ("system", "developer"):
        first = dict(messages[0])
        first["content"] = f"{first['content']}\n\n{note}" if first["content"] else note
        return [first, *messages[1:]]
    return [{"role": "system", "content": note}, *messages]


def template_tools(req: GenerationRequest) -> list[dict[str, Any]] | None:
    """Tools passed to the template; a forced function narrows the list to that one."""
    if not req.tools_active:
        return None
    tools = [dict(t) for t in req.tools]
    forced = req.forced_tool
    return [t for t in tools if t["function"]["name"] == forced] if forced else tools


def template_supports_tools(template: str | None) -> bool:
    return bool(template) and "tools" in str(template)


def _tool_instruction(req: GenerationRequest) -> str | None:
    if not req.tools_active:
        return None
    if req.forced_tool:
        return f"You must call the function {req.forced_tool}."
    if req.tool_choice == "required":
        return "You must call one of the available functions."
    return None


def _normalise(index: int, message: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message["role"], "content": _text(index, message)}
    if message.get("name") is not None:
        out["name"] = str(message["name"])
    if message.get("tool_call_id") is not None:
        out["tool_call_id"] = str(message["tool_call_id"])
    calls = message.get("tool_calls")
    if calls:
        out["tool_calls"] = [_template_call(index, c) for c in calls]
    return out


def _text(index: int, message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, Sequence):
        raise InvalidGenerationRequest(f"messages[{index}].content must be a string or parts")
    texts = []
    for part in content:
        if not isinstance(part, Mapping) or part.get("type") != "text":
            raise InvalidGenerationRequest(f"messages[{index}]: only text parts are supported")
        texts.append(str(part.get("text", "")))
    return "".join(texts)


def _template_call(index: int, call: Any) -> dict[str, Any]:
    """Templates (Qwen, Hermes) render `arguments` as an object, so decode the JSON string."""
    function = call.get("function") if isinstance(call, Mapping) else None
    if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
        raise InvalidGenerationRequest(f"messages[{index}].tool_calls[] needs function.name")
    arguments: Any = function.get("arguments", "{}")
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            raise InvalidGenerationRequest(
                f"messages[{index}].tool_calls[].function.arguments is not JSON"
            ) from None
    return {
        "id": str(call.get("id", "")),
        "type": "function",
        "function": {"name": function["name"], "arguments": arguments},
    }
