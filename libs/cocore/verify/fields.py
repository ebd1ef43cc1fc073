"""Defensive reads of untrusted record JSON: a wrong type reads as None, never an exception."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cocore.syntax import AtUri, Did, InvalidSyntaxError, parse_at_uri, parse_datetime

_HEX64 = re.compile(r"[0-9a-f]{64}")


def get(record: object, *path: str) -> Any:
    """The value at `path` inside nested objects, or None if any step is missing."""
    node: Any = record
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def get_str(record: object, *path: str) -> str | None:
    value = get(record, *path)
    return value if isinstance(value, str) else None


def get_int(record: object, *path: str) -> int | None:
    value = get(record, *path)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def get_time(record: object, *path: str) -> datetime | None:
    value = get_str(record, *path)
    return None if value is None else _parse_time(value)


@functools.lru_cache(maxsize=4096)
def _parse_time(value: str) -> datetime | None:
    try:
        return parse_datetime(value).value
    except InvalidSyntaxError:
        return None


def get_uri(record: object, *path: str) -> AtUri | None:
    value = get_str(record, *path)
    if value is None:
        return None
    try:
        return parse_at_uri(value)
    except InvalidSyntaxError:
        return None


def uri_repo(record: object, *path: str) -> Did | None:
    uri = get_uri(record, *path)
    return uri.repo if uri else None


def is_hex64(value: object) -> bool:
    return isinstance(value, str) and _HEX64.fullmatch(value) is not None


def is_count(value: object) -> bool:
    """A non-negative integer (JSON bools are not integers)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
