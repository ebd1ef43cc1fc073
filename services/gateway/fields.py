"""Typed reads of JSON request fields: each refusal is a 400 that names the field."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, TypeVar

from .errors import InvalidRequest

T = TypeVar("T")
_MISSING = object()


def bad(param: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"{param}: {message}", param=param)


def obj(value: Any, param: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise bad(param, "must be an object")
    return value


def text(body: Mapping[str, Any], key: str, param: str, *, required: bool = False,
         max_len: int = 256, min_len: int = 0) -> str | None:  # fmt: skip
    value = body.get(key)
    if value is None:
        if required:
            raise bad(param, "is required")
        return None
    if not isinstance(value, str):
        raise bad(param, "must be a string")
    if not min_len <= len(value) <= max_len:
        raise bad(param, f"must have {min_len}..{max_len} characters")
    return value


def integer(body: Mapping[str, Any], key: str, param: str, lo: int, hi: int) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise bad(param, "must be an integer")
    if not lo <= value <= hi:
        raise bad(param, f"must be between {lo} and {hi}")
    return value


def number(body: Mapping[str, Any], key: str, param: str, lo: float, hi: float,
           *, open_low: bool = False) -> float | None:  # fmt: skip
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise bad(param, "must be a number")
    if value > hi or value < lo or (open_low and value == lo):
        low = f"({lo}" if open_low else f"[{lo}"
        raise bad(param, f"must be in {low}, {hi}]")
    return float(value)


def boolean(body: Mapping[str, Any], key: str, param: str, default: bool = False) -> bool:
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise bad(param, "must be a boolean")
    return value


def array(body: Mapping[str, Any], key: str, param: str, *, max_len: int,
          min_len: int = 0) -> list[Any] | None:  # fmt: skip
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        raise bad(param, "must be an array")
    if not min_len <= len(value) <= max_len:
        raise bad(param, f"must have {min_len}..{max_len} items")
    return value
