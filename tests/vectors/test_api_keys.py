"""api-keys.json: key format, display prefix, stored hash; strict parsing of presented keys."""

from __future__ import annotations

from typing import Any

import pytest

from cocore.crypto import (
    ApiKeyError,
    api_key_hash,
    api_key_prefix,
    generate_api_key,
    parse_api_key,
)
from cocore.errors import InvalidInput
from tests.conftest import load_vector

KEYS: list[dict[str, Any]] = load_vector("api-keys.json")["keys"]


@pytest.mark.parametrize("case", KEYS, ids=[c["prefix"] for c in KEYS])
def test_vector_key(case: dict[str, Any]) -> None:
    entropy = bytes.fromhex(case["entropyHex"])
    key = generate_api_key(lambda n: entropy[:n])
    assert key == case["key"]
    assert len(key) == 50
    assert parse_api_key(key) == key
    assert api_key_prefix(key) == case["prefix"]
    assert len(case["prefix"]) == 15
    assert api_key_hash(key) == case["storedHash"]


def test_generated_keys_are_fresh_and_well_formed() -> None:
    keys = {generate_api_key() for _ in range(50)}
    assert len(keys) == 50
    for key in keys:
        assert parse_api_key(key) == key


GOOD = KEYS[0]["key"]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "cocore-",
        GOOD[:-1],
        GOOD + "A",
        GOOD.replace("cocore-", "Cocore-"),
        GOOD.replace("cocore-", "cocore_"),
        GOOD[:-1] + "B",  # non-zero pad bits: no 32-byte value encodes to this
        GOOD[:20] + "+" + GOOD[21:],
        GOOD[:20] + "=" + GOOD[21:],
        " " + GOOD,
        GOOD + "\n",
        "Bearer " + GOOD,
        GOOD[:20] + "\u00e9" + GOOD[21:],
        None,
        12,
    ],
)
def test_malformed_keys_are_refused_without_echoing(text: Any) -> None:
    for call in (parse_api_key, api_key_prefix, api_key_hash):
        with pytest.raises(ApiKeyError) as info:
            call(text)
        assert info.value.code == "invalid_api_key"
        assert isinstance(info.value, InvalidInput)
        if isinstance(text, str) and len(text) > 10:
            assert text[7:20] not in str(info.value)


def test_bad_random_source() -> None:
    with pytest.raises(ApiKeyError):
        generate_api_key(lambda n: b"\x00" * (n - 1))
