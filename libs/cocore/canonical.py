"""Canonical JSON (the signing serialisation, crypto.md §2) and the strict JSON reader."""

from __future__ import annotations

import json
import re
from typing import Any, NoReturn

import orjson

from cocore.errors import InvalidInput

__all__ = [
    "MAX_DEPTH",
    "MAX_SAFE_INTEGER",
    "CanonicalError",
    "canonicalize",
    "check_value",
    "encode_checked",
    "loads_strict",
]

MAX_SAFE_INTEGER = 2**53 - 1  # the lowest common range of the TS, Python and Rust canonicalisers
MAX_DEPTH = 64  # records nest 3-4 deep; tool schemas a little more
MAX_TEXT_BYTES = 16 * 1024 * 1024

_SAFE_KEY = re.compile(r"[A-Za-z0-9_$-]{1,40}")
# A string token or one bracket: only used to measure nesting when the text has many brackets.
_DEPTH_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class CanonicalError(InvalidInput):
    """A value cannot be canonicalised, or JSON text is not acceptable for signing."""

    default_code = "canonical_error"


class _Reject(Exception):
    """Raised deep in the walk; collects the JSON path while it unwinds."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path: list[str | int] = []


def canonicalize(value: Any) -> bytes:
    """Return the canonical JSON bytes of `value`; raise CanonicalError naming the bad path."""
    try:
        _check(value, 0)
    except _Reject as bad:
        raise CanonicalError(f"{bad.reason} at {_format_path(bad.path)}") from None
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        return _stdlib_bytes(value)


def check_value(value: Any, depth: int = 0) -> bool:
    """Whether `canonicalize` accepts the shape of `value` sitting `depth` levels down
    (everything but lone surrogates, which only the encoder finds)."""
    try:
        _check(value, depth)
    except _Reject:
        return False
    return True


def encode_checked(value: Any) -> bytes:
    """`canonicalize` for a value whose shape is already checked (`check_value`, or the
    lexicon fast path that proves the same): the encoding alone. A lone surrogate still
    raises CanonicalError."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        return _stdlib_bytes(value)


def _stdlib_bytes(value: Any) -> bytes:
    """The reference encoding, for whatever orjson refuses (a lone surrogate: named here)."""
    try:
        return _ENCODER.encode(value).encode("utf-8")
    except UnicodeEncodeError:
        _raise_surrogate(value)


# After `_check` (ASCII keys, so sorting by code point and by UTF-8 byte agree; integers within
# ±(2^53−1); no floats; bounded depth), orjson writes the very bytes the encoder below writes
# (tests/lib/test_canonical_fuzz.py holds them equal), about ten times faster: canonical JSON is
# on every signing, verification and indexing path.
# These options escape exactly the §2 set (" \ \b \f \n \r \t, other C0 controls as
# lowercase \u00XX) and write everything else raw. Built once (json.dumps with options builds
# an encoder per call); no cycle check, as `_check` has already bounded the depth.
_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, check_circular=False
)


def _check(value: Any, depth: int) -> None:
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return
    if kind is int:
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return
        raise _Reject("integer beyond ±(2^53−1)")
    if kind is dict:
        _check_dict(value, depth)
    elif kind is list or kind is tuple:
        _check_list(value, depth)
    else:
        _check_other(value, depth)


def _check_dict(value: dict[Any, Any], depth: int) -> None:
    if depth >= MAX_DEPTH:
        raise _Reject(f"nesting deeper than {MAX_DEPTH}")
    if not _ascii_keys(value):
        _check_keys(value)  # finds and names the bad key
    for key, item in value.items():
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue  # the usual leaves, without a call (records are mostly strings)
        try:
            _check(item, depth + 1)
        except _Reject as bad:
            bad.path.append(key)
            raise


def _ascii_keys(value: dict[Any, Any]) -> bool:
    """True when every key is a str of ASCII only: one C pass, not a call per key."""
    try:
        return "".join(value).isascii()
    except TypeError:  # a key that is not a str
        return False


def _check_keys(value: dict[Any, Any]) -> None:
    for key in value:
        if not isinstance(key, str):
            raise _Reject(f"non-string object key ({type(key).__name__}) in the object")
        if not key.isascii():
            bad = _Reject("non-ASCII object key")
            bad.path.append(key)
            raise bad


def _check_list(value: list[Any] | tuple[Any, ...], depth: int) -> None:
    if depth >= MAX_DEPTH:
        raise _Reject(f"nesting deeper than {MAX_DEPTH}")
    for index, item in enumerate(value):
        try:
            _check(item, depth + 1)
        except _Reject as bad:
            bad.path.append(index)
            raise


def _check_other(value: Any, depth: int) -> None:
    # Subclasses: str (the syntax types such as Did), int (IntEnum), dict.
    if isinstance(value, float):
        raise _Reject("floating-point number (integers only; 1.0 is a float too)")
    if isinstance(value, str | bool):
        return
    if isinstance(value, int):
        _check(int(value), depth)
    elif isinstance(value, dict):
        _check_dict(value, depth)
    elif isinstance(value, list | tuple):
        _check_list(value, depth)
    else:
        raise _Reject(f"unsupported type {type(value).__name__}")


def _raise_surrogate(value: Any) -> NoReturn:
    path = _find_surrogate(value, [])
    where = _format_path(path) if path is not None else "$"
    raise CanonicalError(f"lone surrogate in a string at {where}") from None


def _find_surrogate(value: Any, path: list[str | int]) -> list[str | int] | None:
    """Return the reversed path to the first string holding a lone surrogate (slow path)."""
    if isinstance(value, str):
        return path if _SURROGATE.search(value) else None
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _find_surrogate(item, [])
        if found is not None:
            return [*found, key]
    return None


def _format_path(reversed_path: list[str | int]) -> str:
    parts = ["$"]
    steps = list(reversed(reversed_path))
    if len(steps) > 12:  # keep the message one readable line (deep or cyclic values)
        steps = steps[:10]
        suffix = f"...({len(reversed_path) - 10} more levels)"
    else:
        suffix = ""
    for step in steps:
        if isinstance(step, int):
            parts.append(f"[{step}]")
        elif _SAFE_KEY.fullmatch(step):
            parts.append(f".{step}")
        else:
            shown = step if len(step) <= 40 else step[:37] + "..."
            parts.append(f"[{json.dumps(shown)}]")
    return "".join(parts) + suffix


def loads_strict(text: str | bytes, *, max_bytes: int = MAX_TEXT_BYTES) -> Any:
    """Parse JSON text for signing: integers only, no duplicate or non-ASCII keys, valid UTF-8."""
    source = _source_text(text, max_bytes)
    _check_text_depth(source)
    try:
        value = json.loads(
            source,
            parse_float=_reject_float,
            parse_int=_parse_int,
            parse_constant=_reject_constant,
            object_pairs_hook=_object_from_pairs,
        )
    except json.JSONDecodeError as exc:
        raise CanonicalError(f"invalid JSON: {exc.msg} at char {exc.pos}") from None
    if _SURROGATE_ESCAPE.search(source) and (path := _find_surrogate(value, [])) is not None:
        where = _format_path(path)
        raise CanonicalError(f"lone surrogate escape in a string at {where}")
    return value


def _source_text(text: str | bytes, max_bytes: int) -> str:
    if isinstance(text, bytes | bytearray | memoryview):
        if len(text) > max_bytes:
            raise CanonicalError(f"JSON text longer than {max_bytes} bytes")
        try:
            return bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CanonicalError(f"invalid UTF-8 at byte {exc.start}") from None
    if not isinstance(text, str):
        raise CanonicalError(f"expected JSON text (str or bytes), got {type(text).__name__}")
    if len(text) > max_bytes:
        raise CanonicalError(f"JSON text longer than {max_bytes} characters")
    if not text.isascii() and _SURROGATE.search(text):
        raise CanonicalError("JSON text contains a lone surrogate (not valid Unicode)")
    return text


def _check_text_depth(source: str) -> None:
    # Fewer opening brackets than the bound cannot nest past it (the usual case, one C scan).
    if source.count("[") + source.count("{") <= MAX_DEPTH:
        return
    depth = 0
    for match in _DEPTH_TOKEN.finditer(source):
        lexeme = match.group()
        if lexeme in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise CanonicalError(f"JSON nesting deeper than {MAX_DEPTH}")
        elif lexeme in "]}":
            depth -= 1


def _reject_float(token: str) -> NoReturn:
    raise CanonicalError("number with a fraction or exponent (integers only; 1.0, 1e2, -0.0 too)")


def _reject_constant(token: str) -> NoReturn:
    raise CanonicalError(f"{token} is not JSON and not allowed")


def _parse_int(token: str) -> int:
    # 2^53-1 has 16 digits; checking the length first keeps huge literals cheap to refuse.
    if len(token.lstrip("-")) > 16 or abs(number := int(token)) > MAX_SAFE_INTEGER:
        raise CanonicalError("integer beyond ±(2^53−1)")
    return number


def _object_from_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise CanonicalError(f"duplicate object key {_shown_key(key)}")
            seen.add(key)
    for key in result:
        if not key.isascii():
            raise CanonicalError(f"non-ASCII object key {_shown_key(key)}")
    return result


def _shown_key(key: str) -> str:
    shown = key if len(key) <= 40 else key[:37] + "..."
    return json.dumps(shown)
