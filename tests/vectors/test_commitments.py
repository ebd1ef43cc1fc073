"""commitments.json: input (text and messages-v1), schema, serial-number and freshness hashes."""

from __future__ import annotations

from typing import Any

import pytest

from cocore.canonical import CanonicalError, canonicalize
from cocore.crypto import (
    EncodingError,
    KeyFormatError,
    OutputHasher,
    freshness_binding,
    messages_v1_commitment,
    messages_v1_envelope,
    output_cipher_commitment,
    output_commitment,
    reasoning_commitment,
    schema_hash,
    serial_number_hash,
    sha256_hex,
    text_input_commitment,
)
from cocore.syntax import parse_did
from tests.conftest import load_vector

V: dict[str, Any] = load_vector("commitments.json")
MESSAGES: list[dict[str, Any]] = V["messagesV1"]


def test_text_prompt() -> None:
    case = V["textPrompt"]
    assert text_input_commitment(case["utf8"]) == case["inputCommitment"]
    assert sha256_hex(case["utf8"].encode()) == case["inputCommitment"]


@pytest.mark.parametrize("case", MESSAGES, ids=[c["name"] for c in MESSAGES])
def test_messages_v1(case: dict[str, Any]) -> None:
    envelope = messages_v1_envelope(case["messages"])
    assert envelope == case["envelopeCanonical"].encode("utf-8")
    assert messages_v1_commitment(case["messages"]) == case["inputCommitment"]


def test_reference_fixture_hash() -> None:
    assert MESSAGES[0]["inputCommitment"].startswith("3378ffa0")
    assert MESSAGES[0]["inputCommitment"].endswith("16b449")


def test_generation_param_hashes() -> None:
    params = V["generationParams"]
    assert canonicalize(params["outputSchema"]) == params["outputSchemaCanonical"].encode()
    assert schema_hash(params["outputSchema"]) == params["outputSchemaHash"]
    assert canonicalize(params["tools"]) == params["toolsCanonical"].encode()
    assert schema_hash(params["tools"]) == params["toolSchemaHash"]


def test_serial_number_hash_and_machine_fingerprint() -> None:
    case = V["serialNumberHashAndMachineFingerprint"]
    did = parse_did(case["did"])
    assert serial_number_hash(case["serial"], did) == case["value"]
    # The '|' matters: the lexicon text omits it, the implementations do not.
    assert sha256_hex((case["serial"] + case["did"]).encode()) != case["value"]


def test_freshness_binding() -> None:
    case = V["freshnessBinding"]
    assert freshness_binding(case["publicKeyB64"]) == case["value"]
    with pytest.raises(KeyFormatError):
        freshness_binding(case["publicKeyB64"].rstrip("="))


def test_output_commitments() -> None:
    deltas = ["The capital", " of France", " is Paris."]
    assert output_commitment(deltas) == sha256_hex("".join(deltas).encode())
    assert output_commitment([]) == sha256_hex(b"")
    assert reasoning_commitment([]) is None
    assert reasoning_commitment(["", ""]) is None
    assert reasoning_commitment(["think", "ing"]) == sha256_hex(b"thinking")
    assert output_cipher_commitment([b"ab", b"", b"c"]) == sha256_hex(b"abc")
    hasher = OutputHasher()
    assert hasher.is_empty
    for delta in deltas:
        hasher.update_text(delta)
    assert hasher.hexdigest() == output_commitment(deltas)
    # Multi-byte characters split across deltas hash like the whole string.
    assert output_commitment(["Gr\u00fc", "\u00dfe \U0001f600"]) == sha256_hex(
        "Gr\u00fc\u00dfe \U0001f600".encode()
    )


def test_bad_text_is_a_typed_error() -> None:
    with pytest.raises(EncodingError):
        text_input_commitment("lone \ud800")
    with pytest.raises(EncodingError):
        output_commitment(["ok", "\udc00"])
    with pytest.raises(EncodingError):
        text_input_commitment(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(CanonicalError):
        messages_v1_envelope([{"role": "user", "content": "x", "temperature": 0.7}])
    with pytest.raises(CanonicalError):
        schema_hash({"maximum": 1.5})
