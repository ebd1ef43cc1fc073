"""Reading fields out of XRPC response bodies, turning shape errors into `BadResponse`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from cocore.syntax import InvalidSyntaxError

from .errors import BadResponse

T = TypeVar("T")


def as_object(body: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise BadResponse(f"{what}: expected a JSON object")
    return body


def field(body: Mapping[str, Any], key: str, parse: Callable[[Any], T], what: str) -> T:
    """`parse(body[key])`, or `BadResponse` naming the field when it is missing or invalid."""
    if key not in body:
        raise BadResponse(f"{what}: missing field {key!r}")
    try:
        return parse(body[key])
    except (InvalidSyntaxError, BadResponse) as e:
        raise BadResponse(f"{what}: invalid field {key!r} ({e.code})") from e


def opt_field(body: Mapping[str, Any], key: str, parse: Callable[[Any], T], what: str) -> T | None:
    return None if body.get(key) is None else field(body, key, parse, what)


def text(value: Any) -> str:
    if not isinstance(value, str):
        raise BadResponse(f"expected a string, got {type(value).__name__}")
    return value


def obj(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadResponse(f"expected an object, got {type(value).__name__}")
    return value
