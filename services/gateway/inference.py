"""OpenAI request bodies → one checked `InferenceRequest` (no I/O; unknown fields ignored)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from cocore.canonical import CanonicalError, canonicalize
from cocore.syntax import InvalidSyntaxError, parse_did

from .config import Limits
from .fields import array, bad, boolean, integer, number, obj, text
from .messages import envelope

MAX_SEED = 2**63 - 1
MAX_STOP = 16
MAX_TOOLS = 128
TRUST_LEVELS = ("self-attested", "hardware-attested")
_COUNTRY = re.compile(r"^[A-Za-z]{2}$")
_VERSION = re.compile(r"^v?\d+(\.\d+){0,3}$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True, slots=True)
class Routing:
    """cocore's routing extensions to the OpenAI body."""

    country: str = ""
    min_version: str = ""
    min_trust: str = ""
    pro_bono: bool = False
    friends_only: bool = False
    provider: str = ""  # a pinned provider DID


@dataclass(frozen=True, slots=True)
class Sampling:
    max_tokens: int
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class InferenceRequest:
    kind: Literal["chat", "completion"]
    model: str
    input_format: Literal["messages-v1", "text"]
    input_bytes: bytes
    message_count: int
    sampling: Sampling
    tools: list[dict[str, Any]] | None = None
    tool_choice: str = ""
    tool_choice_function: str = ""
    output_schema: dict[str, Any] | None = None
    stream: bool = False
    include_usage: bool = False
    user: str | None = None
    routing: Routing = field(default_factory=Routing)

    @property
    def needs_tools(self) -> bool:
        return bool(self.tools) and self.tool_choice != "none"

    @property
    def spec_json_bytes(self) -> int:
        """What the template adds besides the input: tool and schema definitions."""
        tools = len(canonicalize(self.tools)) if self.tools else 0
        schema = len(canonicalize(self.output_schema)) if self.output_schema else 0
        return tools + schema


def parse_chat(body: Any, limits: Limits, salt: str | None) -> InferenceRequest:
    b = obj(body, "body")
    messages = array(b, "messages", "messages", min_len=1, max_len=limits.max_messages)
    if messages is None:
        raise bad("messages", "is required")
    _unsupported(b, n=1, logprobs=False)
    tools, choice, forced = _tools(b)
    max_tokens = _max_tokens(b, limits, "max_completion_tokens") or _max_tokens(b, limits)
    return InferenceRequest(
        kind="chat", model=_model(b), input_format="messages-v1",
        input_bytes=envelope(messages, salt), message_count=len(messages),
        sampling=_sampling(b, max_tokens or limits.default_max_tokens), tools=tools,
        tool_choice=choice, tool_choice_function=forced, output_schema=_response_format(b),
        stream=boolean(b, "stream", "stream"), include_usage=_include_usage(b),
        user=text(b, "user", "user"), routing=_routing(b),
    )  # fmt: skip


def parse_completion(body: Any, limits: Limits) -> InferenceRequest:
    b = obj(body, "body")
    prompt = b.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if not isinstance(prompt, str) or not prompt:
        raise bad("prompt", "must be a non-empty string (or an array of exactly one)")
    if len(prompt) > 1024 * 1024:
        raise bad("prompt", "is longer than 1048576 characters")
    _unsupported(b, n=1, logprobs=None, echo=False, best_of=1, suffix=None)
    try:
        data = prompt.encode("utf-8")
    except UnicodeEncodeError:
        raise bad("prompt", "holds a lone surrogate") from None
    return InferenceRequest(
        kind="completion", model=_model(b), input_format="text", input_bytes=data,
        message_count=1, sampling=_sampling(b, _max_tokens(b, limits) or 16),
        stream=boolean(b, "stream", "stream"), include_usage=_include_usage(b),
        user=text(b, "user", "user"), routing=_routing(b),
    )  # fmt: skip


def _model(b: Mapping[str, Any]) -> str:
    model = text(b, "model", "model", required=True, min_len=1)
    assert model is not None
    return model


def _max_tokens(b: Mapping[str, Any], limits: Limits, key: str = "max_tokens") -> int | None:
    return integer(b, key, key, 1, limits.max_tokens_cap)


def _sampling(b: Mapping[str, Any], max_tokens: int) -> Sampling:
    stop = b.get("stop")
    if isinstance(stop, str):
        stop = [stop]
    if stop is not None and (
        not isinstance(stop, list)
        or len(stop) > MAX_STOP
        or any(not isinstance(s, str) or not 0 < len(s) <= 256 for s in stop)
    ):
        raise bad("stop", f"must be a string or up to {MAX_STOP} strings of 1..256 characters")
    return Sampling(
        max_tokens=max_tokens,
        temperature=number(b, "temperature", "temperature", 0.0, 2.0),
        top_p=number(b, "top_p", "top_p", 0.0, 1.0, open_low=True),
        seed=integer(b, "seed", "seed", 0, MAX_SEED),
        stop=tuple(stop or ()),
    )


def _include_usage(b: Mapping[str, Any]) -> bool:
    options = b.get("stream_options")
    if options is None:
        return False
    return boolean(obj(options, "stream_options"), "include_usage", "stream_options.include_usage")


def _unsupported(b: Mapping[str, Any], **defaults: Any) -> None:
    """Fields a client may send only with their default value (we cannot honour others)."""
    for key, default in defaults.items():
        value = b.get(key)
        if value is not None and value != default and not (default is None and value is False):
            raise bad(key, f"only {default!r} is supported")


def _tools(b: Mapping[str, Any]) -> tuple[list[dict[str, Any]] | None, str, str]:
    raw = array(b, "tools", "tools", max_len=MAX_TOOLS)
    tools = [_tool(i, t) for i, t in enumerate(raw)] if raw else None
    choice = b.get("tool_choice")
    if choice is None:
        return tools, ("auto" if tools else ""), ""
    if isinstance(choice, str):
        if choice not in ("auto", "none", "required"):
            raise bad("tool_choice", "must be auto, none, required or a function choice")
        if choice == "required" and not tools:
            raise bad("tool_choice", "required needs tools")
        return tools, choice, ""
    function = obj(obj(choice, "tool_choice").get("function"), "tool_choice.function")
    name = function.get("name")
    if (
        obj(choice, "tool_choice").get("type") != "function"
        or not tools
        or not isinstance(name, str)
        or name not in {t["function"]["name"] for t in tools}
    ):
        raise bad("tool_choice", "must name a function listed in tools")
    return tools, "required", str(name)


def _tool(index: int, raw: Any) -> dict[str, Any]:
    param = f"tools[{index}]"
    tool = obj(raw, param)
    if tool.get("type") != "function":
        raise bad(f"{param}.type", "must be function")
    function = obj(tool.get("function"), f"{param}.function")
    name = function.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise bad(f"{param}.function.name", "must be 1..64 of [A-Za-z0-9_.-]")
    out: dict[str, Any] = {"name": name}
    description = text(function, "description", f"{param}.function.description", max_len=4096)
    if description is not None:
        out["description"] = description
    if function.get("parameters") is not None:
        out["parameters"] = dict(obj(function["parameters"], f"{param}.function.parameters"))
    _canonical(out, f"{param}.function")
    return {"function": out, "type": "function"}


def _response_format(b: Mapping[str, Any]) -> dict[str, Any] | None:
    raw = b.get("response_format")
    if raw is None:
        return None
    kind = obj(raw, "response_format").get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return {"name": "json_object", "schema": {"type": "object"}}
    if kind != "json_schema":
        raise bad("response_format.type", "must be text, json_object or json_schema")
    spec = obj(raw.get("json_schema"), "response_format.json_schema")
    name = spec.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise bad("response_format.json_schema.name", "must be 1..64 of [A-Za-z0-9_.-]")
    schema = obj(spec.get("schema", {}), "response_format.json_schema.schema")
    out: dict[str, Any] = {"name": name, "schema": dict(schema)}
    strict = spec.get("strict")
    if strict is not None:
        out["strict"] = boolean(spec, "strict", "response_format.json_schema.strict")
    _canonical(out, "response_format.json_schema")
    return out


def _canonical(value: Any, param: str) -> None:
    """Records are canonical JSON: no floats, no lone surrogates (checked here, once)."""
    try:
        canonicalize(value)
    except CanonicalError:
        raise bad(param, "must be integer-only JSON (no floats) with valid strings") from None


def _routing(b: Mapping[str, Any]) -> Routing:
    country = text(b, "country", "country", max_len=2) or ""
    if country and not _COUNTRY.match(country):
        raise bad("country", "must be an ISO 3166-1 alpha-2 code")
    version = text(b, "min_provider_version", "min_provider_version", max_len=32) or ""
    if version and not _VERSION.match(version):
        raise bad("min_provider_version", "must be a dotted version like 0.9.32")
    trust = text(b, "min_trust", "min_trust", max_len=32) or ""
    if trust and trust not in TRUST_LEVELS:
        raise bad("min_trust", f"must be one of {list(TRUST_LEVELS)}")
    provider = text(b, "provider", "provider", max_len=2048) or ""
    if provider:
        try:
            provider = str(parse_did(provider))
        except InvalidSyntaxError:
            raise bad("provider", "must be a provider DID") from None
    return Routing(
        country=country.upper(), min_version=version.removeprefix("v"), min_trust=trust,
        pro_bono=boolean(b, "pro_bono", "pro_bono"),
        friends_only=boolean(b, "friends_only", "friends_only"), provider=provider,
    )  # fmt: skip
