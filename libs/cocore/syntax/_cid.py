"""CIDs of records and blobs: CIDv1, base32 multibase, sha2-256, dag-cbor or raw codec."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any

import libipld

from . import _dagcbor
from ._base import _PARSED, SyntaxString, reject, require_str

DAG_CBOR = 0x71
RAW = 0x55
SHA2_256 = 0x12
_MAX_DEPTH = 64


class Cid(SyntaxString):
    """A content identifier in the form atproto blesses (CIDv1, base32, sha2-256)."""

    __slots__ = ()
    kind = "cid"

    @property
    def codec(self) -> int:
        return int(libipld.decode_cid(str(self))["codec"])

    @property
    def digest(self) -> bytes:
        return bytes(libipld.decode_cid(str(self))["hash"]["digest"])

    def to_bytes(self) -> bytes:
        """The binary CID (what a dag-cbor link holds, without the 0x00 multibase prefix)."""
        return bytes(libipld.decode_multibase(str(self))[1])


def parse_cid(value: object) -> Cid:
    """Parse a CID string. Only CIDv1 / base32-lower / sha2-256 / dag-cbor or raw is accepted."""
    s = require_str("cid", value, 128)
    if not s.startswith("b"):
        raise reject("cid", s, "expected base32 multibase (starting with 'b')")
    try:
        decoded = libipld.decode_cid(s)
        canonical = libipld.encode_cid(libipld.decode_multibase(s)[1])
    except ValueError as e:
        raise reject("cid", s, f"not a CID ({e})") from e
    if decoded["version"] != 1:
        raise reject("cid", s, "only CIDv1 is accepted")
    if decoded["codec"] not in (DAG_CBOR, RAW):
        raise reject("cid", s, f"codec 0x{decoded['codec']:x} is neither dag-cbor nor raw")
    if decoded["hash"]["code"] != SHA2_256 or decoded["hash"]["size"] != 32:
        raise reject("cid", s, "multihash must be sha2-256 (32 bytes)")
    if canonical != s:
        raise reject("cid", s, "not in canonical base32-lower form")
    return Cid(s, _PARSED)


def cid_for_bytes(data: bytes, codec: int = DAG_CBOR) -> Cid:
    """The CIDv1 (sha2-256) of some encoded bytes."""
    return cid_for_digest(hashlib.sha256(data).digest(), codec)


def cid_for_digest(digest: bytes, codec: int = DAG_CBOR) -> Cid:
    """The CIDv1 of bytes whose sha2-256 digest is already known (no second hash)."""
    if len(digest) != 32 or codec not in (DAG_CBOR, RAW):
        raise reject("cid", digest.hex(), "expected a 32-byte sha2-256 digest, dag-cbor or raw")
    return Cid(libipld.encode_cid(bytes([1, codec, SHA2_256, 32]) + digest), _PARSED)


def dag_cbor(record: Mapping[str, Any]) -> bytes:
    """DAG-CBOR of a record in its JSON form (`$link` and `$bytes` objects become links/bytes).

    Floats are refused: the atproto data model has none, and a PDS rejects them.
    """
    if _plain(record):
        # No links or byte strings: libipld is exact here (and fast), see test_syntax_fuzz.
        return bytes(libipld.encode_dag_cbor(record))
    return _dagcbor.encode(_to_ipld(record, "$", 0))


def record_cid(record: Mapping[str, Any]) -> Cid:
    """The CID a PDS assigns to this record: CIDv1, dag-cbor, sha2-256 over the stored form."""
    return cid_for_bytes(dag_cbor(record))


def _plain(record: Mapping[str, Any]) -> bool:
    """True when the record is plain JSON data with no `$link`/`$bytes` objects.

    Raises on anything that is not valid record data (floats, odd types, deep nesting).
    """
    stack: list[tuple[Any, int]] = [(record, 0)]
    plain = True
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str) or value is None or isinstance(value, bool):
            continue
        if isinstance(value, int):
            if not -(2**63) <= value < 2**63:
                raise reject("record", value, "integer outside the 64-bit range")
        elif type(value) is dict or isinstance(value, Mapping):  # exact type first: ABCs are slow
            plain = plain and type(value) is dict  # libipld only takes plain dicts
            if depth > _MAX_DEPTH:
                raise reject("record", "$", f"nested deeper than {_MAX_DEPTH} levels")
            if "$link" in value or "$bytes" in value:
                plain = False
            for k, v in value.items():
                if not isinstance(k, str):
                    raise reject("record", k, "map keys must be strings")
                stack.append((v, depth + 1))
        elif isinstance(value, (list, tuple)):
            plain = plain and type(value) is list
            stack.extend((v, depth + 1) for v in value)
        elif isinstance(value, float):
            raise reject("record", value, "floats are not allowed in atproto records")
        else:
            raise reject("record", type(value).__name__, "unsupported value type")
    return plain


def _to_ipld(value: Any, path: str, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise reject("record", path, f"nested deeper than {_MAX_DEPTH} levels")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            raise reject("record", path, "integer outside the 64-bit range")
        return value
    if isinstance(value, float):
        raise reject("record", path, "floats are not allowed in atproto records")
    if isinstance(value, (list, tuple)):
        return [_to_ipld(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        return _map_to_ipld(value, path, depth)
    raise reject("record", path, f"unsupported value of type {type(value).__name__}")


def _map_to_ipld(value: Mapping[Any, Any], path: str, depth: int) -> Any:
    if len(value) == 1 and "$link" in value:
        return _dagcbor.Link(parse_cid(value["$link"]).to_bytes())
    if len(value) == 1 and "$bytes" in value:
        raw = value["$bytes"]
        if not isinstance(raw, str):
            raise reject("record", path, "$bytes must hold a base64 string")
        return base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    out: dict[str, Any] = {}
    for k, v in value.items():
        if not isinstance(k, str):
            raise reject("record", path, "map keys must be strings")
        out[k] = _to_ipld(v, f"{path}.{k}", depth + 1)
    return out
