"""canonical-json.json: reference bytes where TS and Python agree; divergent cases rejected."""

from __future__ import annotations

import enum
import hashlib
import json
from typing import Any

import pytest

from cocore.canonical import MAX_DEPTH, CanonicalError, canonicalize, loads_strict
from cocore.syntax import parse_did
from tests.conftest import load_vector

CASES: list[dict[str, Any]] = load_vector("canonical-json.json")["cases"]

# Every case where the reference implementations disagree (or both refuse) and why we refuse.
# The keys must be exactly the cases that are not "ok in TS and Python alike" (checked below),
# so a new divergent vector cannot slip through as an accepted case.
REJECTED = {
    "2^53 (beyond JS safe range)": "TS refuses |n| > 2^53-1, Python/Rust accept: we take the "
    "lowest common range, so the value is refused",
    "float rejected": "floats are never canonical (all implementations agree)",
    "1.0 written with a fraction": "JS JSON.parse turns 1.0 into 1; Python/Rust see a float: the "
    "text spelling is refused by loads_strict and the float value by canonicalize",
    "non-ASCII object key rejected": "TS and Python refuse non-ASCII keys (Rust would sort by "
    "UTF-8 bytes): refused for cross-language byte parity",
    "lone surrogate in a string": "TS writes EF BF BD, Python cannot encode it, serde refuses to "
    "parse it: invalid input, refused",
}

ACCEPTED = [c for c in CASES if c["ok"] and c["pythonAgreesWithTs"]]
DIVERGENT = [c for c in CASES if not (c["ok"] and c["pythonAgreesWithTs"])]


def test_vector_file_is_classified_completely() -> None:
    assert len(CASES) >= 30
    assert {c["name"] for c in DIVERGENT} == set(REJECTED)
    for case in DIVERGENT:
        # Each refused case is either refused by TS too, or its note explains the divergence.
        assert not case["ok"] or "note" in case


@pytest.mark.parametrize("case", ACCEPTED, ids=[c["name"] for c in ACCEPTED])
def test_agreed_case_reproduces_reference_bytes(case: dict[str, Any]) -> None:
    value = json.loads(case["inputJson"])  # the point here is the value
    out = canonicalize(value)
    assert out.hex() == case["canonicalHex"]
    assert out == case["canonical"].encode("utf-8")
    assert hashlib.sha256(out).hexdigest() == case["sha256"]
    assert case["pythonSdk"]["canonicalHex"] == case["canonicalHex"]


@pytest.mark.parametrize("case", ACCEPTED, ids=[c["name"] for c in ACCEPTED])
def test_agreed_case_is_accepted_by_the_strict_reader(case: dict[str, Any]) -> None:
    strict = loads_strict(case["inputJson"])
    assert strict == json.loads(case["inputJson"])
    assert canonicalize(strict).hex() == case["canonicalHex"]
    assert (
        canonicalize(loads_strict(case["inputJson"].encode("utf-8"))).hex() == case["canonicalHex"]
    )


@pytest.mark.parametrize(
    "case", DIVERGENT, ids=[f"{c['name']} -- {REJECTED.get(c['name'], '?')}" for c in DIVERGENT]
)
def test_divergent_case_is_rejected(case: dict[str, Any]) -> None:
    # The value as an ordinary parser produces it is refused by canonicalize ...
    with pytest.raises(CanonicalError) as by_value:
        canonicalize(json.loads(case["inputJson"]))
    # ... and the text is refused by the strict reader, whatever its spelling.
    with pytest.raises(CanonicalError) as by_text:
        loads_strict(case["inputJson"])
    for exc in (by_value.value, by_text.value):
        assert exc.code == "canonical_error"
        assert "\n" not in str(exc)


# --------------------------------------------------------------------- beyond the vector file


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ({"price": {"amount": 1.0}}, "$.price.amount"),
        ({"price": {"amount": 12.5}}, "$.price.amount"),
        ({"a": [1, {"b": float("nan")}]}, "$.a[1].b"),
        ({"tokens": {"out": 2**53}}, "$.tokens.out"),
        ({"tokens": {"out": -(2**53)}}, "$.tokens.out"),
        ({"x": [0, 2**64]}, "$.x[1]"),
        ({"s": ["ok", "bad \ud800"]}, "$.s[1]"),
        ({"k": {"caf\u00e9": 1}}, '$.k["caf\\u00e9"]'),
        ({"k": {"\ud800": 1}}, '$.k["\\ud800"]'),
        ({"k": {1: "one"}}, "$.k"),
        ({"b": b"bytes"}, "$.b"),
        ({"set": {1, 2}}, "$.set"),
        ({"o": object()}, "$.o"),
        ({"a b": {"c": 1.5}}, '$["a b"].c'),
    ],
)
def test_rejections_name_the_json_path(value: Any, path: str) -> None:
    with pytest.raises(CanonicalError) as info:
        canonicalize(value)
    assert str(info.value).endswith(f"at {path}")


def test_boundaries_and_python_types() -> None:
    assert canonicalize(2**53 - 1) == b"9007199254740991"
    assert canonicalize(-(2**53 - 1)) == b"-9007199254740991"
    assert canonicalize([True, False, None, 0]) == b"[true,false,null,0]"

    class Level(enum.IntEnum):
        HIGH = 3

    assert canonicalize({"level": Level.HIGH}) == b'{"level":3}'
    assert canonicalize({"t": (1, "a")}) == b'{"t":[1,"a"]}'
    did = parse_did("did:plc:vectorprovideraaaaaaaaaa")
    assert canonicalize({"did": did}) == b'{"did":"did:plc:vectorprovideraaaaaaaaaa"}'
    assert canonicalize("\u2028\x7f\ufeff/") == '"\u2028\x7f\ufeff/"'.encode()
    assert canonicalize("\x1f") == b'"\\u001f"'


def test_depth_bound_and_cycles_give_a_typed_error() -> None:
    ok: Any = []
    for _ in range(MAX_DEPTH - 1):
        ok = [ok]
    assert canonicalize(ok) == b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    with pytest.raises(CanonicalError, match="nesting deeper"):
        canonicalize([ok])
    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    with pytest.raises(CanonicalError, match="nesting deeper"):
        canonicalize(cyclic)


@pytest.mark.parametrize(
    "text",
    [
        "1.0",
        "1e2",
        "1E+2",
        "-0.0",
        "0.5",
        '{"x":1e0}',
        "NaN",
        "-Infinity",
        '{"a":1,"a":1}',
        '{"b":{"a":1,"a":2}}',
        "9007199254740992",
        "-9007199254740992",
        "1" * 5000,
        '"\\ud800"',
        '["\\udc00x"]',
        '{"k":"\\ud83d"}',
        '{"caf\\u00e9":1}',
        '{"\\ud800":1}',
        "\ufeff{}",
        '{"a":1',
        "",
        "[1,]",
        '"\x01"',
        "[" * 100_000,
        "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
    ],
)
def test_loads_strict_rejects(text: str) -> None:
    with pytest.raises(CanonicalError):
        loads_strict(text)


@pytest.mark.parametrize(
    "data",
    [b'"\xff"', b'"\xed\xa0\x80"', b'"\xc3"', b"\xef\xbb\xbf{}", '"\ud800"', 12, None],
)
def test_loads_strict_rejects_bad_encodings_and_types(data: Any) -> None:
    with pytest.raises(CanonicalError):
        loads_strict(data)


def test_loads_strict_accepts_what_it_should() -> None:
    assert loads_strict("-0") == 0
    assert loads_strict('"\\ud83d\\ude00"') == "\U0001f600"
    assert loads_strict('"\\\\ud800"') == "\\ud800"  # an escaped backslash, not a surrogate
    assert loads_strict(b'{"a":[1,{"b":null}]}') == {"a": [1, {"b": None}]}
    assert loads_strict(" [ ] ") == []
    assert loads_strict("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None


def test_loads_strict_bounds_the_input_size() -> None:
    with pytest.raises(CanonicalError, match="longer than"):
        loads_strict(b"[" + b"1," * 100 + b"1]", max_bytes=64)
