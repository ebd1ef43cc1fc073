"""The generated fast paths never accept what the closure validators or canonicalize refuse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cocore.canonical import CanonicalError, canonicalize
from cocore.lexicon import LexiconRegistry, default_registry, ids
from tests.lib.test_lexicon_misc import DRAWING, GOOD, SHAPES, write_lexicons
from tests.lib.test_lexicon_records import INVALID, OPEN_BUT_VALID, VALID, changed

FAST = default_registry()
SLOW = LexiconRegistry.load(fast_paths=False)


def canonical(value: Any) -> bool:
    try:
        canonicalize(value)
    except CanonicalError:
        return False
    return True


def agree(fast: LexiconRegistry, slow: LexiconRegistry, nsid: str, record: Any) -> None:
    """The fast registry reports exactly what the slow one does, and certifies only records
    that are valid and canonical (bar a lone surrogate outside the declared fields, which
    `certify_record` leaves to the encoder)."""
    issues = slow.validate_record(nsid, record)
    assert fast.validate_record(nsid, record) == issues
    if fast.certify_record(nsid, record):
        assert issues == []
        try:
            canonicalize(record)
        except CanonicalError as e:
            assert "lone surrogate" in e.message


@pytest.mark.parametrize("nsid", sorted(ids.RECORD_NSIDS))
def test_every_record_type_has_a_fast_path_that_admits_its_valid_record(nsid: str) -> None:
    assert FAST.certify_record(nsid, VALID[nsid])
    assert not SLOW.certify_record(nsid, VALID[nsid])  # no fast path: "not shown"


@pytest.mark.parametrize(("nsid", "field", "value"), OPEN_BUT_VALID)
def test_open_values_are_certified(nsid: str, field: str, value: Any) -> None:
    assert FAST.certify_record(nsid, changed(VALID[nsid], field, value))


@pytest.mark.parametrize(("nsid", "field", "value", "path", "fragment"), INVALID)
def test_invalid_records_are_not_certified(
    nsid: str, field: str, value: Any, path: str, fragment: str
) -> None:
    assert not FAST.certify_record(nsid, changed(VALID[nsid], field, value))


RECEIPT = VALID[ids.COMPUTE_RECEIPT]
# Lexicon-valid, yet refused by canonicalize (or not plain JSON): never certified.
NOT_CANONICAL = [
    changed(RECEIPT, "note", 1.5),  # an undeclared float
    changed(RECEIPT, "price.amount", 2**53),  # within the lexicon's 64 bits, not canonical's 53
    changed(RECEIPT, "tokens.extra", {"ü": 1}),  # a non-ASCII key, one level down
    changed(RECEIPT, "note", b"raw"),  # bytes are not JSON
    changed(RECEIPT, "model", "lone \ud800 surrogate"),
]


@pytest.mark.parametrize("record", NOT_CANONICAL)
def test_non_canonical_records_are_not_certified(record: dict[str, Any]) -> None:
    assert not FAST.certify_record(ids.COMPUTE_RECEIPT, record)
    agree(FAST, SLOW, ids.COMPUTE_RECEIPT, record)


def test_every_shape_unrolls_and_recursion_keeps_its_depth_bound(tmp_path: Path) -> None:
    root = write_lexicons(tmp_path, SHAPES)
    fast, slow = LexiconRegistry.load(root), LexiconRegistry.load(root, fast_paths=False)
    assert fast.certify_record(DRAWING, GOOD)
    tree: dict[str, Any] = {}
    for _ in range(70):  # past both depth bounds (the lexicon's and canonical JSON's)
        tree = {"child": tree}
        deep = {**GOOD, "tree": tree}
        agree(fast, slow, DRAWING, deep)
        valid = slow.validate_record(DRAWING, deep) == [] and canonical(deep)
        assert fast.certify_record(DRAWING, deep) == valid
    others: list[dict[str, Any]] = [
        {**GOOD, "open": [{"$type": "x.y.other", "q": 1.5}]},  # open union: canonical only
        {**GOOD, "closed": {"$type": "x.y.other"}},
        {**GOOD, "closed": {"$type": "test.shapes.circle#main", "r": 1}},
        {**GOOD, "note": "ok"},
        {**GOOD, "label": "👨‍👩‍👧"},
        {**GOOD, "label": "ccc"},
        {**GOOD, "speed": "test.shapes.defs#fast"},
        {**GOOD, "picture": {"$type": "blob", "ref": {"$link": "x"}, "mimeType": "image/png"}},
    ]
    for record in others:
        agree(fast, slow, DRAWING, record)


# Values that land on declared fields with the wrong type, size or encoding, and extras.
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64)
    | st.floats(allow_nan=False)
    | st.text(max_size=70)
    | st.sampled_from(["", "x" * 64, "ü" * 40, "a\ud800", "MEUCIGqI", "2026-05-07T12:00:00Z"])
    | st.binary(max_size=4)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=6) | st.sampled_from(["uri", "cid", "$type"]), inner)
    ),
    max_leaves=8,
)


def paths(value: Any, prefix: str = "") -> list[str]:
    out = []
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        path = f"{prefix}{key}"
        out.append(path)
        if isinstance(item, dict | list) and item:
            out.extend(paths(item, path + "."))
    return out


def mutated(record: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """`record` with `dotted` set to `value`, or unchanged when its parent is not a container."""
    *parents, last = dotted.split(".")
    node: Any = record
    for part in parents:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return record
    if isinstance(node, list) and not (last.isdigit() and int(last) < len(node)):
        return record
    return changed(record, dotted, value) if isinstance(node, dict | list) else record


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_mutated_records_agree_with_the_slow_path(data: st.DataObject) -> None:
    nsid = data.draw(st.sampled_from(sorted(ids.RECORD_NSIDS)))
    record = VALID[nsid]
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from([*paths(record), "extra", "price.extra"]))
        record = mutated(record, path, data.draw(VALUES))
    agree(FAST, SLOW, nsid, record)
