"""OpenAI chat messages → the canonical `messages-v1` envelope the provider opens.

Images must be inline `data:` URIs (the gateway never fetches a URL for a client: no SSRF).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from cocore.canonical import canonicalize

from .fields import bad, obj

ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
MAX_TEXT_CHARS = 1024 * 1024
MAX_IMAGE_BYTES = 20 * 1024 * 1024
_DATA_URI = re.compile(r"^data:(image/[a-zA-Z0-9.+-]+);base64,([A-Za-z0-9+/=\s]*)$", re.S)


def envelope(messages: list[Any], salt: str | None) -> bytes:
    """The sealed bytes: canonical `{"messages": [...], "v": 1}` (+ `salt`, see README).

    The salt makes the public `inputCommitment` (a SHA-256 of these bytes) impossible to
    confirm by guessing a short prompt; the provider hashes the bytes as sealed, so
    receipts still match.
    """
    out: dict[str, Any] = {"messages": [message(i, m) for i, m in enumerate(messages)], "v": 1}
    if salt is not None:
        out["salt"] = salt
    return canonicalize(out)


def message(index: int, raw: Any) -> dict[str, Any]:
    param = f"messages[{index}]"
    m = obj(raw, param)
    role = m.get("role")
    if not isinstance(role, str) or role not in ROLES:
        raise bad(f"{param}.role", f"must be one of {sorted(ROLES)}")
    out: dict[str, Any] = {"role": role, "content": _content(m.get("content"), param)}
    if role == "tool":
        call_id = m.get("tool_call_id")
        if not isinstance(call_id, str) or not 0 < len(call_id) <= 256:
            raise bad(f"{param}.tool_call_id", "a tool message needs its tool_call_id")
        out["tool_call_id"] = call_id
    calls = m.get("tool_calls")
    if calls is not None:
        if role != "assistant" or not isinstance(calls, list) or len(calls) > 128:
            raise bad(f"{param}.tool_calls", "must be an array on an assistant message")
        out["tool_calls"] = [_tool_call(f"{param}.tool_calls[{j}]", c) for j, c in enumerate(calls)]
    return out


def _content(content: Any, param: str) -> str | list[dict[str, Any]]:
    if content is None:
        return ""
    if isinstance(content, str):
        return _text(content, f"{param}.content")
    if not isinstance(content, list) or not content or len(content) > 256:
        raise bad(f"{param}.content", "must be a string or a non-empty array of parts")
    return [_part(f"{param}.content[{k}]", p) for k, p in enumerate(content)]


def _part(param: str, raw: Any) -> dict[str, Any]:
    part = obj(raw, param)
    kind = part.get("type")
    if kind == "text":
        value = part.get("text")
        if not isinstance(value, str):
            raise bad(f"{param}.text", "must be a string")
        return {"text": _text(value, f"{param}.text"), "type": "text"}
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, Mapping) else image
        if not isinstance(url, str):
            raise bad(f"{param}.image_url.url", "must be a string")
        mime, data = _data_uri(url, f"{param}.image_url.url")
        return {"data": data, "mime": mime, "type": "image"}
    raise bad(f"{param}.type", "must be text or image_url")


def _data_uri(url: str, param: str) -> tuple[str, str]:
    match = _DATA_URI.match(url)
    if match is None:
        raise bad(param, "must be a data:image/…;base64 URI (remote URLs are not fetched)")
    compact = re.sub(r"\s", "", match.group(2))
    try:
        raw = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise bad(param, "is not valid base64") from None
    if not raw or len(raw) > MAX_IMAGE_BYTES:
        raise bad(param, f"image must be 1..{MAX_IMAGE_BYTES} bytes")
    return match.group(1).lower(), base64.b64encode(raw).decode("ascii")


def _tool_call(param: str, raw: Any) -> dict[str, Any]:
    call = obj(raw, param)
    function = obj(call.get("function"), f"{param}.function")
    name, arguments = function.get("name"), function.get("arguments", "{}")
    if not isinstance(name, str) or not 0 < len(name) <= 256:
        raise bad(f"{param}.function.name", "must be a non-empty string")
    if not isinstance(arguments, str):
        raise bad(f"{param}.function.arguments", "must be a JSON string")
    call_id = call.get("id", "")
    if not isinstance(call_id, str) or len(call_id) > 256:
        raise bad(f"{param}.id", "must be a string")
    return {"function": {"arguments": arguments, "name": name}, "id": call_id, "type": "function"}


def _text(value: str, param: str) -> str:
    if len(value) > MAX_TEXT_CHARS:
        raise bad(param, f"is longer than {MAX_TEXT_CHARS} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise bad(param, "holds a lone surrogate") from None
    return value
