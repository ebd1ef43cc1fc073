"""Record blocks (DAG-CBOR) to their atproto JSON form, keeping links and bytes apart.

libipld decodes a CID link and a byte string to the same Python `bytes`, so blocks that may
hold a link (tag 42) go through the small exact decoder below; the rest use libipld.
"""

from __future__ import annotations

import base64
import struct
from typing import Any

import libipld
import orjson

from .errors import MalformedFrame

_TAG_42 = b"\xd8\x2a"
MAX_DEPTH = 64
_NESTED = (dict, list, bytes)


def record_json(block: bytes) -> dict[str, Any]:
    """The record a block encodes, with links as `{"$link"}` and bytes as `{"$bytes"}`."""
    error: Exception | None = None
    try:
        value: Any = libipld.decode_dag_cbor(block)
    except (ValueError, RecursionError) as e:
        value, error = None, e
    # Most records hold neither links nor bytes (libipld decodes both to `bytes`, which
    # `_plain` finds): nothing more to do, not even the scan for a tag 42.
    if error is None and type(value) is dict and _plain(value):
        return value
    if _TAG_42 in block:
        value = _Decoder(block).top()
    elif error is not None:
        raise MalformedFrame(f"record block is not DAG-CBOR ({type(error).__name__})") from error
    elif type(value) is dict and _holds_bytes(value, 0):
        value = _bytes_to_json(value, 0)
    if not isinstance(value, dict):
        raise MalformedFrame("a record block must encode a map")
    return value


def b64_bytes(raw: bytes) -> dict[str, str]:
    return {"$bytes": base64.b64encode(raw).decode("ascii").rstrip("=")}


def _plain(value: dict[str, Any]) -> bool:
    """True when `value` certainly holds no byte string and nests at most MAX_DEPTH deep (most
    records): orjson refuses bytes, and a text with few brackets cannot nest deeper than
    their count. A few microseconds less than walking the record in Python; False means the
    walk below decides (bytes, a deep record, or an integer beyond 64 bits)."""
    try:
        text = orjson.dumps(value)
    except orjson.JSONEncodeError:
        return False
    return text.count(b"{") + text.count(b"[") <= MAX_DEPTH


def _holds_bytes(value: Any, depth: int) -> bool:
    """Whether a byte string sits anywhere in `value` (a dict or list); reads, never copies."""
    if depth > MAX_DEPTH:
        raise MalformedFrame("record nested too deeply")
    for v in value.values() if type(value) is dict else value:
        kind = type(v)
        if kind is bytes:
            return True
        if (kind is dict or kind is list) and _holds_bytes(v, depth + 1):
            return True
    return False


def _bytes_to_json(value: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise MalformedFrame("record nested too deeply")
    kind = type(value)
    if kind is bytes:
        return b64_bytes(value)
    # Scalars are returned as they are without a call: this walk is on the firehose hot path.
    if kind is dict:
        return {k: _bytes_to_json(v, depth + 1) if type(v) in _NESTED else v
                for k, v in value.items()}  # fmt: skip
    if kind is list:
        return [_bytes_to_json(v, depth + 1) if type(v) in _NESTED else v for v in value]
    return value


class _Decoder:
    """A strict-enough DAG-CBOR reader: definite lengths only, text keys, tag 42 only."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def top(self) -> Any:
        value = self.item(0)
        if self.pos != len(self.data):
            raise MalformedFrame("trailing bytes after the record")
        return value

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise MalformedFrame("record block truncated")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def head(self) -> tuple[int, int]:
        first = self.take(1)[0]
        major, info = first >> 5, first & 0x1F
        if info < 24:
            return major, info
        if info > 27:
            raise MalformedFrame("indefinite or reserved CBOR length")
        if major == 7:
            return major, info  # the caller reads the float / simple payload itself
        return major, int.from_bytes(self.take(1 << (info - 24)), "big")

    def item(self, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise MalformedFrame("record nested too deeply")
        major, arg = self.head()
        if major <= 1:
            return arg if major == 0 else -1 - arg
        if major == 2:
            return b64_bytes(self.take(arg))
        if major == 3:
            return self.text(arg)
        if major == 4:
            return [self.item(depth + 1) for _ in range(self.count(arg))]
        return self.map(arg, depth) if major == 5 else self.tail(major, arg)

    def tail(self, major: int, arg: int) -> Any:
        return self.link(arg) if major == 6 else self.simple(arg)

    def count(self, n: int) -> int:
        if n > len(self.data) - self.pos:  # every element takes at least one byte
            raise MalformedFrame("CBOR length exceeds the block")
        return n

    def text(self, n: int) -> str:
        try:
            return self.take(n).decode("utf-8")
        except UnicodeDecodeError as e:
            raise MalformedFrame("CBOR text is not UTF-8") from e

    def map(self, n: int, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for _ in range(self.count(n)):
            major, arg = self.head()
            if major != 3:
                raise MalformedFrame("DAG-CBOR map keys must be text")
            key = self.text(arg)
            out[key] = self.item(depth + 1)
        return out

    def link(self, tag: int) -> dict[str, str]:
        major, n = self.head()
        if tag != 42 or major != 2:
            raise MalformedFrame("only tag 42 (a CID link over bytes) is allowed")
        raw = self.take(n)
        if not raw or raw[0] != 0:
            raise MalformedFrame("a CID link starts with the 0x00 multibase byte")
        try:
            return {"$link": libipld.encode_cid(raw[1:])}
        except ValueError as e:
            raise MalformedFrame("bad CID link") from e

    def simple(self, info: int) -> Any:
        if info in (20, 21, 22):
            return (False, True, None)[info - 20]
        if info == 27:
            return struct.unpack(">d", self.take(8))[0]
        raise MalformedFrame("unsupported CBOR simple value or float width")
