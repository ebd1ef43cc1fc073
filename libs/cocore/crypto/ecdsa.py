"""P-256 ECDSA signature encodings: a strict DER parser, DER ↔ raw r‖s, and the S-form test."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from .errors import SignatureFormatError

__all__ = [
    "P256_FIELD_PRIME",
    "P256_ORDER",
    "der_to_raw",
    "is_high_s",
    "parse_der_strict",
    "parse_raw",
    "raw_to_der",
]

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
P256_FIELD_PRIME = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
RAW_SIGNATURE_LEN = 64
_MIN_DER_LEN = 8  # 30 06 02 01 r 02 01 s
_MAX_DER_LEN = 72  # 30 46 02 21 00‖r(32) 02 21 00‖s(32)


def parse_der_strict(der: bytes) -> tuple[int, int]:
    """Parse DER `SEQUENCE { INTEGER r, INTEGER s }` as strictly as RustCrypto `from_der`.

    Rejects wrong tags, long-form or wrong lengths, trailing bytes, non-minimal or negative
    integers, and r or s outside [1, n−1]. Raises SignatureFormatError.
    """
    if not isinstance(der, bytes):
        raise SignatureFormatError(f"DER signature must be bytes, got {type(der).__name__}")
    if not _MIN_DER_LEN <= len(der) <= _MAX_DER_LEN:
        raise SignatureFormatError(f"DER signature of {len(der)} bytes (expected 8-72)")
    if der[0] != 0x30:
        raise SignatureFormatError("DER signature does not start with a SEQUENCE tag")
    if der[1] != len(der) - 2:
        raise SignatureFormatError("DER SEQUENCE length does not match the signature length")
    r, offset = _read_integer(der, 2)
    s, offset = _read_integer(der, offset)
    if offset != len(der):
        raise SignatureFormatError("bytes after the second INTEGER inside the DER SEQUENCE")
    return _in_range(r, s)


def _read_integer(der: bytes, offset: int) -> tuple[int, int]:
    if offset + 2 > len(der) or der[offset] != 0x02:
        raise SignatureFormatError("DER signature is missing an INTEGER")
    length = der[offset + 1]
    start, end = offset + 2, offset + 2 + length
    if length == 0 or length > 33 or end > len(der):
        raise SignatureFormatError("DER INTEGER has a bad length")
    body = der[start:end]
    if body[0] & 0x80:
        raise SignatureFormatError("DER INTEGER is negative")
    if length > 1 and body[0] == 0 and not body[1] & 0x80:
        raise SignatureFormatError("DER INTEGER is not minimally encoded")
    return int.from_bytes(body, "big"), end


def _in_range(r: int, s: int) -> tuple[int, int]:
    if not (0 < r < P256_ORDER and 0 < s < P256_ORDER):
        raise SignatureFormatError("signature r or s is outside [1, n-1]")
    return r, s


def parse_raw(raw: bytes) -> tuple[int, int]:
    """Split a 64-byte r‖s (IEEE P1363) signature; raise SignatureFormatError if malformed."""
    if not isinstance(raw, bytes) or len(raw) != RAW_SIGNATURE_LEN:
        raise SignatureFormatError("raw signature must be exactly 64 bytes (r‖s)")
    return _in_range(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))


def der_to_raw(der: bytes) -> bytes:
    """Strict DER → 64-byte r‖s (the settlement wire form)."""
    r, s = parse_der_strict(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def raw_to_der(raw: bytes) -> bytes:
    """64-byte r‖s → minimal DER (the receipt wire form)."""
    r, s = parse_raw(raw)
    return encode_dss_signature(r, s)


def is_high_s(signature: bytes) -> bool:
    """Whether s > n/2. A 64-byte input is read as raw r‖s; anything else as strict DER.

    Informational only: cocore verifiers accept both S forms (crypto.md §3).
    """
    if not isinstance(signature, bytes):
        raise SignatureFormatError(f"signature must be bytes, got {type(signature).__name__}")
    is_raw = len(signature) == RAW_SIGNATURE_LEN
    _, s = parse_raw(signature) if is_raw else parse_der_strict(signature)
    return s > P256_ORDER // 2
