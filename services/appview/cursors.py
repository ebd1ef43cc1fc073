"""Opaque page cursors: a versioned JSON array of the last row's sort key, base64url-encoded."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from .errors import InvalidCursor

_VERSION = 1
MAX_CURSOR_CHARS = 512


def encode_cursor(*key: str | int) -> str:
    raw = json.dumps([_VERSION, *key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *types: type) -> tuple[Any, ...]:
    """The key parts, each checked against `types`; `InvalidCursor` for anything else."""
    if len(cursor) > MAX_CURSOR_CHARS:
        raise InvalidCursor("cursor is too long")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError) as e:
        raise InvalidCursor("cursor is not one this AppView issued") from e
    if (
        not isinstance(value, list)
        or len(value) != len(types) + 1
        or value[0] != _VERSION
        or not all(type(v) is t for v, t in zip(value[1:], types, strict=True))
    ):
        raise InvalidCursor("cursor is not one this AppView issued")
    return tuple(value[1:])
