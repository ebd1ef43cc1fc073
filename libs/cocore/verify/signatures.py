"""Signature checks over receipts and attestations, as results that never raise."""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cocore.canonical import CanonicalError, loads_strict
from cocore.crypto import CryptoError, PublicKey, b64decode_strict
from cocore.signing import attestation_signing_bytes, receipt_signing_bytes

from .fields import get_str

APP_ATTEST_APP_ID = "4L45P7CP9M.dev.cocore.provider"
_APP_ATTEST_RP_ID_HASH = hashlib.sha256(APP_ATTEST_APP_ID.encode()).digest()
_FRACTION = re.compile(r"\.[0-9]+(?=Z|[+-][0-9]{2}:[0-9]{2}$)")


@dataclass(frozen=True, slots=True)
class SignatureResult:
    """`valid`, or not; `error` is set when the check could not even be attempted."""

    valid: bool
    error: str | None = None


def check_receipt_signature(
    receipt: Mapping[str, Any], attestation: Mapping[str, Any]
) -> SignatureResult:
    """Verify `enclaveSignature` against the attestation's key, dispatching on its sigScheme."""
    try:
        message = receipt_signing_bytes(receipt)
    except CanonicalError as e:
        return SignatureResult(False, f"receipt cannot be canonicalised: {e}")
    try:
        signature = b64decode_strict(get_str(receipt, "enclaveSignature") or "")
    except CryptoError:
        return SignatureResult(False, "enclaveSignature is not standard base64")
    try:
        key = _public_key(get_str(attestation, "publicKey") or "")
    except CryptoError:
        return SignatureResult(False)  # a malformed key simply cannot have signed this
    scheme = attestation.get("sigScheme", "p256")
    if scheme == "p256":
        return SignatureResult(key.verify_der(signature, message))
    if scheme == "appattest-assertion":
        return SignatureResult(_verify_assertion(key, signature, message))
    return SignatureResult(False, f"unsupported sigScheme {scheme!r}")


def check_attestation_signature(attestation: Mapping[str, Any]) -> SignatureResult:
    """Verify `selfSignature`, then the pre-2026-07 legacy form the reference also accepts.

    A provider signs every receipt of a day under one attestation, so results are memoised on
    the exact (signed bytes, signature, key) triple: the same content can only verify the same.
    """
    try:
        message = attestation_signing_bytes(attestation)
    except CanonicalError as e:
        return SignatureResult(False, str(e))
    sig, key = get_str(attestation, "selfSignature") or "", get_str(attestation, "publicKey") or ""
    return _attestation_verdict(message, sig, key, _legacy_form(attestation) is not None)


@functools.lru_cache(maxsize=4096)
def _attestation_verdict(
    message: bytes, sig: str, key_b64: str, has_legacy: bool
) -> SignatureResult:
    try:
        signature, key = b64decode_strict(sig), _public_key(key_b64)
        if key.verify_der(signature, message):
            return SignatureResult(True)
        if not has_legacy:
            return SignatureResult(False)
        legacy = _legacy_form(loads_strict(message))
        assert legacy is not None  # the signed body keeps the fields the legacy form rewrites
        return SignatureResult(key.verify_der(signature, attestation_signing_bytes(legacy)))
    except (CryptoError, CanonicalError) as e:
        return SignatureResult(False, str(e))


@functools.lru_cache(maxsize=4096)
def _public_key(key_b64: str) -> PublicKey:
    """Parsed keys are immutable; a provider's key recurs on every receipt it signs."""
    return PublicKey.from_cocore_b64(key_b64)


def _legacy_form(attestation: Mapping[str, Any]) -> dict[str, Any] | None:
    """Before 2026-07 providers signed `mdaCertChain: []` and whole seconds, but stored
    neither; rebuild that signed form. None when it would be the same bytes again."""
    legacy = dict(attestation)
    legacy.setdefault("mdaCertChain", [])
    for field in ("attestedAt", "expiresAt"):
        value = legacy.get(field)
        if isinstance(value, str):
            legacy[field] = _FRACTION.sub("", value)
    return None if legacy == dict(attestation) else legacy


def _verify_assertion(key: PublicKey, blob: bytes, message: bytes) -> bool:
    """App Attest: a CBOR map {signature: DER, authenticatorData}; the DER signature covers
    authenticatorData ‖ sha256(message). Only the rpIdHash is bound (as the reference does)."""
    fields = _decode_cbor_bytes_map(blob)
    if fields is None:
        return False
    signature, auth_data = fields.get("signature"), fields.get("authenticatorData")
    if signature is None or auth_data is None or len(auth_data) < 37:
        return False
    if auth_data[:32] != _APP_ATTEST_RP_ID_HASH:
        return False
    return key.verify_der(signature, auth_data + hashlib.sha256(message).digest())


def _decode_cbor_bytes_map(data: bytes) -> dict[str, bytes] | None:
    """Decode exactly a CBOR map of text keys to byte strings (any key order); None otherwise."""
    pos = 0

    def head(expected_major: int) -> int | None:
        nonlocal pos
        if pos >= len(data) or data[pos] >> 5 != expected_major:
            return None
        info, pos = data[pos] & 0x1F, pos + 1
        if info < 24:
            return info
        width = {24: 1, 25: 2, 26: 4}.get(info)
        if width is None or pos + width > len(data):
            return None
        value, pos = int.from_bytes(data[pos : pos + width], "big"), pos + width
        return value

    def chunk(major: int) -> bytes | None:
        nonlocal pos
        length = head(major)
        if length is None or pos + length > len(data):
            return None
        value, pos = data[pos : pos + length], pos + length
        return value

    count = head(5)
    if count is None or count > 8:
        return None
    out: dict[str, bytes] = {}
    for _ in range(count):
        key, value = chunk(3), chunk(2)
        if key is None or value is None:
            return None
        try:
            out[key.decode("utf-8")] = value
        except UnicodeDecodeError:
            return None
    return out if pos == len(data) else None
