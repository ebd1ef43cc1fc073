"""An exact DAG-CBOR encoder for records in their IPLD form.

libipld encodes any `bytes` value that happens to parse as a CID as a link (tag 42), so a
record holding such bytes would get the wrong CID. Here links are a distinct type.
"""

from __future__ import annotations

import struct
from typing import Any


class Link(bytes):
    """A binary CID that must be encoded as a tag-42 link, not as a byte string."""

    __slots__ = ()


def encode(value: Any) -> bytes:
    out = bytearray()
    _encode(value, out)
    return bytes(out)


def _head(major: int, n: int, out: bytearray) -> None:
    if n < 24:
        out.append(major << 5 | n)
    elif n < 0x100:
        out += bytes((major << 5 | 24, n))
    elif n < 0x10000:
        out.append(major << 5 | 25)
        out += struct.pack(">H", n)
    elif n < 0x100000000:
        out.append(major << 5 | 26)
        out += struct.pack(">I", n)
    else:
        out.append(major << 5 | 27)
        out += struct.pack(">Q", n)


def _encode(value: Any, out: bytearray) -> None:
    if value is None:
        out.append(0xF6)
    elif value is True:
        out.append(0xF5)
    elif value is False:
        out.append(0xF4)
    elif isinstance(value, int):
        _head(0, value, out) if value >= 0 else _head(1, -1 - value, out)
    elif isinstance(value, str):
        data = value.encode("utf-8")
        _head(3, len(data), out)
        out += data
    elif isinstance(value, Link):
        out += b"\xd8\x2a"  # tag 42
        _head(2, len(value) + 1, out)
        out.append(0)  # the identity multibase prefix
        out += value
    elif isinstance(value, bytes):
        _head(2, len(value), out)
        out += value
    elif isinstance(value, list):
        _head(4, len(value), out)
        for item in value:
            _encode(item, out)
    else:
        _encode_map(value, out)


def _encode_map(value: dict[str, Any], out: bytearray) -> None:
    # DAG-CBOR map order: shorter keys first, then bytewise.
    keys = sorted(((k.encode("utf-8"), k) for k in value), key=lambda kv: (len(kv[0]), kv[0]))
    _head(5, len(keys), out)
    for raw, key in keys:
        _head(3, len(raw), out)
        out += raw
        _encode(value[key], out)
