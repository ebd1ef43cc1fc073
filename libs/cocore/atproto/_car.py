"""Slicing a CAR (v1) into raw blocks by CID, without decoding blocks nobody asked for."""

from __future__ import annotations

from .errors import MalformedFrame

MAX_BLOCKS = 10_000
SHA256_CIDV1 = (b"\x01\x71\x12\x20", b"\x01\x55\x12\x20")  # dag-cbor, raw


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise MalformedFrame("truncated or oversized varint in CAR")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _cid_end(data: bytes, pos: int) -> int:
    if data[pos : pos + 2] == b"\x12\x20":  # CIDv0: a bare sha2-256 multihash
        return pos + 34
    version, pos = _varint(data, pos)
    if version != 1:
        raise MalformedFrame("unsupported CID version in CAR")
    _, pos = _varint(data, pos)  # codec
    _, pos = _varint(data, pos)  # hash function
    size, pos = _varint(data, pos)
    return pos + size


def car_blocks(data: bytes) -> dict[bytes, bytes]:
    """Map binary CID → raw block bytes. Hashes are checked by the caller, per block used."""
    header_len, pos = _varint(data, 0)
    pos += header_len
    size = len(data)
    if pos > size:
        raise MalformedFrame("CAR header truncated")
    blocks: dict[bytes, bytes] = {}
    while pos < size:
        # Fast paths (this loop runs ~7 times per commit): one-byte lengths, sha2-256 CIDv1s.
        first = data[pos]
        section_len, start = (first, pos + 1) if first < 0x80 else _varint(data, pos)
        end = start + section_len
        if end > size or section_len == 0:
            raise MalformedFrame("CAR section truncated")
        prefix = data[start : start + 4]
        cid_end = start + 36 if prefix in SHA256_CIDV1 else _cid_end(data, start)
        if cid_end > end:
            raise MalformedFrame("CID runs past its CAR section")
        blocks[data[start:cid_end]] = data[cid_end:end]
        if len(blocks) > MAX_BLOCKS:
            raise MalformedFrame("too many blocks in one CAR")
        pos = end
    return blocks
