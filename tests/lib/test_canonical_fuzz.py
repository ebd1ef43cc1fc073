"""Properties: canonicalize/loads_strict raise only CanonicalError; accepted values round-trip."""

from __future__ import annotations

import contextlib
import enum
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cocore.canonical import MAX_SAFE_INTEGER, CanonicalError, canonicalize, loads_strict

# Anything JSON-ish, including what must be refused: floats, big ints, surrogates, odd keys.
_any_scalar = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
_any_key = st.text(max_size=8) | st.integers() | st.none() | st.booleans()
ANY_JSONISH = st.recursive(
    _any_scalar,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(st.text(max_size=8), inner, max_size=5)
        | st.dictionaries(_any_key, inner, max_size=3)
        | st.tuples(inner, inner)
    ),
    max_leaves=30,
)
ODD_OBJECTS = st.one_of(
    st.binary(max_size=8),
    st.sets(st.integers(), max_size=3),
    st.decimals(allow_nan=False),
    st.complex_numbers(),
    st.just(object()),
    st.builds(Decimal, st.integers()),
)

# Only what canonical JSON accepts.
_text = st.text(st.characters(exclude_categories=["Cs"]))
_key = st.text(st.characters(max_codepoint=127), max_size=10)
VALID = st.recursive(
    st.none() | st.booleans() | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER) | _text,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(_key, inner, max_size=5),
    max_leaves=40,
)


@given(ANY_JSONISH | st.lists(ODD_OBJECTS | ANY_JSONISH, max_size=3))
def test_canonicalize_only_raises_canonical_error(value: Any) -> None:
    try:
        out = canonicalize(value)
    except CanonicalError as exc:
        assert "\n" not in str(exc)
        assert str(exc).count(" at $") == 1
        return
    parsed = json.loads(out)
    assert canonicalize(parsed) == out
    assert loads_strict(out) == parsed


@given(VALID)
def test_valid_values_round_trip(value: Any) -> None:
    out = canonicalize(value)
    assert json.loads(out.decode("utf-8")) == value
    assert loads_strict(out) == value
    assert canonicalize(loads_strict(out)) == out
    # No whitespace between tokens: the same as the compact, sorted Python form.
    assert out == json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


@given(st.text(max_size=200) | st.binary(max_size=200))
def test_loads_strict_on_arbitrary_input(text: str | bytes) -> None:
    try:
        value = loads_strict(text)
    except CanonicalError as exc:
        assert "\n" not in str(exc)
        return
    canonicalize(value)  # whatever the strict reader accepts can be canonicalised


@given(VALID, st.data())
def test_loads_strict_on_mutated_json(value: Any, data: st.DataObject) -> None:
    text = json.dumps(value, ensure_ascii=data.draw(st.booleans()))
    position = data.draw(st.integers(0, len(text)))
    insert = data.draw(st.sampled_from(['"', "\\", "[", "]", "{", "}", ",", ":", ".0", "e5", "-"]))
    mutated = text[:position] + insert + text[position:]
    try:
        parsed = loads_strict(mutated)
    except CanonicalError:
        return
    canonicalize(parsed)


@settings(max_examples=50)
@given(st.integers(1, 3000), st.sampled_from(["[", "{", '{"a":']))
def test_deep_nesting_never_recurses_out(depth: int, opener: str) -> None:
    closer = {"[": "]", "{": "}", '{"a":': "}"}[opener]
    text = opener * depth + ("1" if opener == '{"a":' else "") + closer * depth
    with contextlib.suppress(CanonicalError):
        loads_strict(text)


class _Tag(str):
    """A str subclass, as the syntax types (Did, Nsid…) are."""


class _Level(enum.IntEnum):
    LOW = 1
    HIGH = 2**53 - 1


class _Ordered(dict[str, Any]):
    pass


_controls = st.text(st.characters(max_codepoint=0x7F) | st.sampled_from("\u2028\u2029\x7f\ufeff"))
SUBCLASSED = st.recursive(
    _text | _controls | st.builds(_Tag, _text) | st.sampled_from(list(_Level)),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(_key | st.builds(_Tag, _key), inner, max_size=4)
        | st.dictionaries(_key, inner, max_size=3).map(_Ordered)
    ),
    max_leaves=30,
)


@given(SUBCLASSED)
def test_the_fast_encoder_writes_the_reference_bytes(value: Any) -> None:
    """orjson (the fast path) against the stdlib encoder the rules were written for: str, int
    and dict subclasses, tuples, every C0 control, U+2028/2029, DEL, a BOM."""
    reference = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonicalize(value) == reference.encode("utf-8")


def test_a_lone_surrogate_is_named_by_path() -> None:
    with pytest.raises(CanonicalError, match=r"lone surrogate in a string at \$\.a\[1\]"):
        canonicalize({"a": ["ok", "bad \ud800"]})
