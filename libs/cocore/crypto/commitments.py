"""Commitments (crypto.md §8, §5): lowercase-hex SHA-256 over exactly specified bytes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cocore.canonical import canonicalize
from cocore.syntax import Did

from .encoding import sha256_hex
from .errors import EncodingError
from .keys import PublicKey

__all__ = [
    "OutputHasher",
    "freshness_binding",
    "messages_v1_commitment",
    "messages_v1_envelope",
    "output_cipher_commitment",
    "output_commitment",
    "reasoning_commitment",
    "schema_hash",
    "serial_number_hash",
    "sha256_hex",
    "text_input_commitment",
]


def _utf8(text: str) -> bytes:
    if not isinstance(text, str):
        raise EncodingError(f"expected text, got {type(text).__name__}")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise EncodingError("text holds a lone surrogate and has no UTF-8 form") from None


class OutputHasher:
    """Incremental SHA-256 for a stream: text deltas as UTF-8, or sealed blobs as-is."""

    __slots__ = ("_hash", "_length")

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._length = 0

    def update_text(self, delta: str) -> None:
        self.update_bytes(_utf8(delta))

    def update_bytes(self, data: bytes) -> None:
        self._hash.update(data)
        self._length += len(data)

    @property
    def is_empty(self) -> bool:
        return self._length == 0

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def text_input_commitment(prompt: str) -> str:
    """inputCommitment for inputFormat `text`: sha256 of the UTF-8 prompt."""
    return sha256_hex(_utf8(prompt))


def messages_v1_envelope(messages: Sequence[Mapping[str, Any]]) -> bytes:
    """The sealed bytes for inputFormat `messages-v1`: canonical {"messages": [...], "v": 1}."""
    return canonicalize({"messages": list(messages), "v": 1})


def messages_v1_commitment(messages: Sequence[Mapping[str, Any]]) -> str:
    return sha256_hex(messages_v1_envelope(messages))


def output_commitment(content_deltas: Iterable[str]) -> str:
    """outputCommitment: sha256 of the UTF-8 of the concatenated content-channel deltas."""
    hasher = OutputHasher()
    for delta in content_deltas:
        hasher.update_text(delta)
    return hasher.hexdigest()


def reasoning_commitment(deltas: Iterable[str]) -> str | None:
    """reasoningCommitment, or None when the reasoning channel produced no text."""
    hasher = OutputHasher()
    for delta in deltas:
        hasher.update_text(delta)
    return None if hasher.is_empty else hasher.hexdigest()


def output_cipher_commitment(blobs: Iterable[bytes]) -> str:
    """outputCipherCommitment: sha256 over every sealed chunk, concatenated in seq order."""
    hasher = OutputHasher()
    for blob in blobs:
        hasher.update_bytes(blob)
    return hasher.hexdigest()


def schema_hash(value: Any) -> str:
    """params.outputSchemaHash / toolSchemaHash: sha256 of the canonical JSON."""
    return sha256_hex(canonicalize(value))


def serial_number_hash(serial: str, did: Did) -> str:
    """serialNumberHash and provider.machineFingerprint: sha256_hex(serial ‖ "|" ‖ did)."""
    return sha256_hex(_utf8(serial) + b"|" + _utf8(did))


def freshness_binding(public_key_b64: str) -> str:
    """MDA freshness / App Attest clientDataHash: sha256 of the raw 64-byte X‖Y."""
    return sha256_hex(PublicKey.from_cocore_b64(public_key_b64).raw_xy)
