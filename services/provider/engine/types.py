"""The engine's value types: what a caller asks for and what comes back, frozen and mlx-free."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from services.provider.engine.errors import InvalidGenerationRequest

Channel = Literal["content", "reasoning", "tool_call"]
FinishReason = Literal["stop", "length", "tool_calls", "cancelled", "error"]
ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
MAX_STOP_SEQUENCES = 16
MAX_STOP_CHARS = 256
MAX_TOOLS = 128


@dataclass(frozen=True)
class ToolCall:
    """One OpenAI-style function call: `arguments` is a JSON object as a string."""

    id: str
    name: str
    arguments: str
    index: int = 0

    def to_openai(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass(frozen=True)
class Delta:
    """A piece of output on one channel; a `tool_call` delta carries one complete call."""

    channel: Channel
    text: str
    tool_call: ToolCall | None = None


@dataclass(frozen=True)
class Finish:
    """The last item of every generation stream.

    `completion_tokens` counts every token the model generated for this request (reasoning,
    tool-call markup and the end-of-turn token included), so a receipt can bill exactly what
    was computed. `error_code` is set only when `reason == "error"`. `format_ok` is None when
    no `response_format` was asked for; otherwise whether the content validated.
    """

    reason: FinishReason
    prompt_tokens: int
    completion_tokens: int
    tool_calls: tuple[ToolCall, ...] = ()
    error_code: str | None = None
    error: str | None = None
    format_ok: bool | None = None
    format_error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the model ran to a natural end (the only outcomes worth billing)."""
        return self.reason in ("stop", "length", "tool_calls")


@dataclass(frozen=True)
class ModelInfo:
    id: str
    context_length: int
    supports_tools: bool
    supports_reasoning: bool = False
    slots: int = 1


@dataclass(frozen=True)
class EngineFault:
    """Why a configured model is not served; `message` never contains prompt text."""

    model: str
    code: str
    message: str


@dataclass(frozen=True)
class ResponseFormat:
    """`type` is `text`, `json_object` or `json_schema` (then `schema` is the JSON Schema)."""

    type: Literal["text", "json_object", "json_schema"] = "text"
    schema: Mapping[str, Any] | None = None
    name: str | None = None

    @classmethod
    def from_openai(cls, value: Mapping[str, Any] | None) -> ResponseFormat | None:
        if value is None:
            return None
        kind = value.get("type")
        if kind in ("text", "json_object"):
            return cls(type=kind)
        if kind == "json_schema":
            spec = value.get("json_schema")
            if not isinstance(spec, Mapping) or not isinstance(spec.get("schema", {}), Mapping):
                raise InvalidGenerationRequest("response_format.json_schema must be an object")
            return cls("json_schema", dict(spec.get("schema", {})), spec.get("name"))
        raise InvalidGenerationRequest("response_format.type must be text|json_object|json_schema")


@dataclass(frozen=True)
class GenerationRequest:
    """One generation. Exactly one of `messages` (chat, OpenAI shape) or `prompt` (raw text).

    `temperature` 0 means greedy; `seed` makes sampling reproducible (the same seed and
    parameters give the same output, batched or not); `tool_choice` is `auto`, `none`,
    `required` or `{"type": "function", "function": {"name": …}}`.
    """

    model: str
    messages: Sequence[Mapping[str, Any]] | None = None
    prompt: str | None = None
    max_tokens: int = 256
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    stop: Sequence[str] = ()
    tools: Sequence[Mapping[str, Any]] = ()
    tool_choice: str | Mapping[str, Any] = "auto"
    response_format: ResponseFormat | None = None

    def __post_init__(self) -> None:
        _check_request(self)

    @property
    def tools_active(self) -> bool:
        return bool(self.tools) and self.tool_choice != "none"

    @property
    def forced_tool(self) -> str | None:
        choice = self.tool_choice
        if isinstance(choice, Mapping):
            function = choice.get("function")
            if isinstance(function, Mapping) and isinstance(function.get("name"), str):
                return str(function["name"])
        return None


def _check_request(req: GenerationRequest) -> None:
    bad = InvalidGenerationRequest
    if (req.messages is None) == (req.prompt is None):
        raise bad("exactly one of messages or prompt is required")
    if req.messages is not None:
        if not req.messages:
            raise bad("messages must not be empty")
        for i, message in enumerate(req.messages):
            if not isinstance(message, Mapping) or message.get("role") not in ROLES:
                raise bad(f"messages[{i}].role must be one of {sorted(ROLES)}")
    _check_sampling(req)
    _check_tools(req)


def _check_sampling(req: GenerationRequest) -> None:
    bad = InvalidGenerationRequest
    if isinstance(req.max_tokens, bool) or not isinstance(req.max_tokens, int):
        raise bad("max_tokens must be an integer")
    if req.max_tokens < 1:
        raise bad("max_tokens must be at least 1")
    if not _finite(req.temperature) or not 0.0 <= req.temperature <= 2.0:
        raise bad("temperature must be between 0 and 2")
    if not _finite(req.top_p) or not 0.0 < req.top_p <= 1.0:
        raise bad("top_p must be in (0, 1]")
    if req.seed is not None and (isinstance(req.seed, bool) or not isinstance(req.seed, int)):
        raise bad("seed must be an integer")
    if req.seed is not None and not 0 <= req.seed < 2**63:
        raise bad("seed must be in [0, 2^63)")
    if isinstance(req.stop, str) or len(req.stop) > MAX_STOP_SEQUENCES:
        raise bad(f"stop must be a list of at most {MAX_STOP_SEQUENCES} strings")
    if any(not isinstance(s, str) or not 0 < len(s) <= MAX_STOP_CHARS for s in req.stop):
        raise bad(f"each stop string must have 1..{MAX_STOP_CHARS} characters")


def _check_tools(req: GenerationRequest) -> None:
    bad = InvalidGenerationRequest
    if len(req.tools) > MAX_TOOLS:
        raise bad(f"at most {MAX_TOOLS} tools")
    names = set()
    for i, tool in enumerate(req.tools):
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if tool.get("type") != "function" or not isinstance(function, Mapping):
            raise bad(f"tools[{i}] must be {{type: function, function: {{name, …}}}}")
        if not isinstance(function.get("name"), str) or not function["name"]:
            raise bad(f"tools[{i}].function.name must be a non-empty string")
        names.add(function["name"])
    choice = req.tool_choice
    if isinstance(choice, str):
        if choice not in ("auto", "none", "required"):
            raise bad("tool_choice must be auto, none, required or a function choice")
        if choice == "required" and not req.tools:
            raise bad("tool_choice required needs tools")
    elif req.forced_tool is None or req.forced_tool not in names:
        raise bad("tool_choice names a function that is not in tools")


def _finite(value: float) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# Deltas alone coalesce to Deltas alone; a stream with its Finish keeps the Finish.
_Items = TypeVar("_Items", Delta, Delta | Finish)


def coalesce(items: Sequence[_Items]) -> list[_Items]:
    """Merge adjacent text deltas of one channel; tool calls and the Finish stay as they are."""
    out: list[_Items] = []
    for item in items:
        last = out[-1] if out else None
        if (
            isinstance(item, Delta)
            and isinstance(last, Delta)
            and item.tool_call is None
            and last.tool_call is None
            and item.channel == last.channel
        ):
            out[-1] = Delta(last.channel, last.text + item.text)
        else:
            out.append(item)
    return out


def tool_call_delta(call: ToolCall) -> Delta:
    """The delta that announces one parsed tool call (its text is the OpenAI JSON shape)."""
    text = json.dumps(call.to_openai(), separators=(",", ":"), ensure_ascii=False)
    return Delta("tool_call", text, call)
