"""Lexicon loading, refs, unions, params, bodies, the ids module, and never-raise fuzzing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cocore.lexicon import (
    MAX_ISSUES,
    LexiconLoadError,
    LexiconRegistry,
    LexiconValidationError,
    UnknownLexiconError,
    ValidationIssue,
    default_registry,
    gen,
    ids,
)
from cocore.lexicon._formats import COMMON_CID, COMMON_DATETIME
from cocore.lexicon._loader import default_directory
from cocore.lexicon._text import grapheme_count
from cocore.syntax import parse_cid, parse_datetime
from tests.conftest import REPO

REG = default_registry()
CID = "bafyreiejuhw4mtmvatobeslpmz5rftqf7zzpqrunlrft2vfh3zhiciseju"

# A small synthetic lexicon set: the cocore lexicons have no unions, tokens or recursion.
SHAPES: dict[str, dict[str, Any]] = {
    "test.shapes.defs": {
        "point": {
            "type": "object",
            "required": ["x"],
            "properties": {"x": {"type": "integer"}, "y": {"type": "integer", "const": 0}},
        },
        "label": {"type": "string", "maxGraphemes": 3, "enum": ["a", "bb", "👨‍👩‍👧"]},
        "fast": {"type": "token", "description": "a token"},
    },
    "test.shapes.circle": {
        "main": {
            "type": "object",
            "required": ["r"],
            "properties": {"r": {"type": "integer", "minimum": 1}},
        },
    },
    "test.shapes.drawing": {
        "main": {
            "type": "record",
            "key": "any",
            "record": {
                "type": "object",
                "required": ["closed", "open", "origin"],
                "nullable": ["note"],
                "properties": {
                    "closed": {
                        "type": "union",
                        "closed": True,
                        "refs": ["test.shapes.circle", "#square"],
                    },
                    "open": {"type": "array", "items": {"type": "union", "refs": ["#square"]}},
                    "origin": {"type": "ref", "ref": "test.shapes.defs#point"},
                    "label": {"type": "ref", "ref": "test.shapes.defs#label"},
                    "speed": {"type": "ref", "ref": "test.shapes.defs#fast"},
                    "note": {"type": "string", "maxLength": 5},
                    "link": {"type": "cid-link"},
                    "extra": {"type": "unknown"},
                    "tree": {"type": "ref", "ref": "#tree"},
                    "picture": {"type": "blob", "accept": ["image/*"]},
                    "lang": {"type": "string", "format": "language"},
                    "who": {"type": "string", "format": "at-identifier"},
                    "where": {"type": "string", "format": "at-uri"},
                    "rkey": {"type": "string", "format": "record-key"},
                    "tid": {"type": "string", "format": "tid"},
                    "nsid": {"type": "string", "format": "nsid"},
                    "handle": {"type": "string", "format": "handle"},
                    "flag": {"type": "boolean", "const": True},
                    "nothing": {"type": "null"},
                },
            },
        },
        "square": {
            "type": "object",
            "required": ["side"],
            "properties": {"side": {"type": "integer", "maximum": 10}},
        },
        "tree": {
            "type": "object",
            "properties": {"child": {"type": "ref", "ref": "#tree"}},
        },
    },
}
DRAWING = "test.shapes.drawing"
GOOD = {
    "closed": {"$type": "test.shapes.circle", "r": 2},
    "open": [{"$type": "test.shapes.drawing#square", "side": 3}, {"$type": "x.y.other", "q": 1}],
    "origin": {"x": 1, "y": 0},
    "note": None,
}


def write_lexicons(root: Path, shapes: dict[str, dict[str, Any]]) -> Path:
    for nsid, defs in shapes.items():
        path = root.joinpath(*nsid.split(".")).with_suffix(".json")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"lexicon": 1, "id": nsid, "defs": defs}), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> LexiconRegistry:
    return LexiconRegistry.load(write_lexicons(tmp_path_factory.mktemp("lex"), SHAPES))


def paths(issues: list[ValidationIssue]) -> list[str]:
    return [i.path for i in issues]


def test_refs_across_files_and_unions(shapes: LexiconRegistry) -> None:
    assert shapes.validate_record(DRAWING, GOOD) == []
    main_form = {**GOOD, "closed": {"$type": "test.shapes.circle#main", "r": 1}}
    assert shapes.validate_record(DRAWING, main_form) == []
    bad = {
        **GOOD,
        "closed": {"$type": "test.shapes.drawing#square", "side": 11},
        "open": [{"$type": "test.shapes.drawing#square"}, {"side": 1}, 5],
        "origin": {"x": "1", "y": 2},
    }
    assert sorted(map(str, shapes.validate_record(DRAWING, bad))) == [
        "closed.side: must be at most 10, got 11",
        "open[0].side: required field missing",
        "open[1].$type: a union member needs a $type string",
        "open[2]: expected object (a union member), got integer",
        "origin.x: expected integer, got string",
        "origin.y: must be one of 0, got 2",
    ]


def test_closed_union_rejects_unknown_type_open_accepts(shapes: LexiconRegistry) -> None:
    unknown = {"$type": "x.y.other", "anything": True}
    issues = shapes.validate_record(DRAWING, {**GOOD, "closed": unknown})
    assert paths(issues) == ["closed.$type"]
    assert "not one of the closed union's types" in issues[0].message
    assert shapes.validate_record(DRAWING, {**GOOD, "open": [unknown]}) == []


def test_tokens_nullable_const_graphemes_links(shapes: LexiconRegistry) -> None:
    ok: dict[str, Any] = {
        **GOOD,
        "label": "👨‍👩‍👧",
        "speed": "test.shapes.defs#fast",
        "link": {"$link": CID},
        "extra": {"whatever": [1]},
        "picture": {"$type": "blob", "ref": {"$link": CID}, "mimeType": "image/png", "size": 9},
        "lang": "pt-BR",
        "who": "alice.test",
        "where": "at://alice.test/app.bsky.feed.post",
        "rkey": "self",
        "tid": "3mlb62rnec22b",
        "nsid": "dev.cocore.compute.receipt",
        "handle": "bob.example.com",
        "flag": True,
        "nothing": None,
    }
    assert shapes.validate_record(DRAWING, ok) == []
    bad = {
        **ok,
        "label": "ccc",
        "speed": "fast",
        "note": "toolong",
        "link": {"$link": CID, "x": 1},
        "extra": [1],
        "picture": {**ok["picture"], "mimeType": "text/plain"},
        "lang": "english!",
        "who": "did:nope",
        "where": "at://alice.test/app.bsky.feed.post?x=1",
        "rkey": "..",
        "tid": "3MLB62RNEC22B",
        "nsid": "receipt",
        "handle": "localhost",
        "flag": False,
        "nothing": 0,
    }
    # One issue per damaged field, each at its own path.
    assert sorted(paths(shapes.validate_record(DRAWING, bad))) == sorted(
        k if k != "picture" else "picture.mimeType" for k in bad if k not in GOOD or k == "note"
    )


def test_recursive_schema_is_depth_bounded(shapes: LexiconRegistry) -> None:
    tree: dict[str, Any] = {}
    for _ in range(5000):
        tree = {"child": tree}
    issues = shapes.validate_record(DRAWING, {**GOOD, "tree": tree})
    assert len(issues) == 1
    assert "nested deeper than" in issues[0].message


def test_issue_count_is_bounded(shapes: LexiconRegistry) -> None:
    many = [{"$type": "test.shapes.drawing#square", "side": 99}] * 1000
    assert len(shapes.validate_record(DRAWING, {**GOOD, "open": many})) == MAX_ISSUES


def test_grapheme_approximation() -> None:
    assert grapheme_count("e\u0301") == 1
    assert grapheme_count("👨‍👩‍👧") == 1
    assert grapheme_count("🇺🇸🇬🇧") == 2
    assert grapheme_count("👍🏽!") == 2
    assert grapheme_count("a\r\nb") == 3


BROKEN = [
    ("not json", "{", "not JSON (line 1"),
    ("bad version", {"lexicon": 2, "id": "test.bad.doc", "defs": {}}, "lexicon: expected"),
    ("id mismatch", {"lexicon": 1, "id": "test.bad.other", "defs": {}}, "does not match"),
    (
        "bad min",
        {"main": {"type": "string", "maxLength": "5"}},
        "defs.main.maxLength: expected an integer",
    ),
    (
        "negative",
        {"main": {"type": "array", "items": {"type": "integer"}, "maxLength": -1}},
        "defs.main.maxLength: must be at least 0",
    ),
    (
        "bad format",
        {"main": {"type": "string", "format": "email"}},
        "defs.main.format: unknown string format",
    ),
    (
        "dangling ref",
        {"main": {"type": "ref", "ref": "test.nowhere.x#y"}},
        "defs.main.ref: ref 'test.nowhere.x#y'",
    ),
    ("missing def", {"main": {"type": "ref", "ref": "#gone"}}, "has no def 'gone'"),
    (
        "required",
        {"main": {"type": "object", "required": ["a"], "properties": {}}},
        "defs.main.required[0]: 'a' is not a declared",
    ),
    (
        "record not main",
        {"other": {"type": "record", "record": {"type": "object"}}},
        "defs.other: a record must be the main def",
    ),
    ("unknown type", {"main": {"type": "float"}}, "defs.main.type: type 'float' is not allowed"),
    (
        "union of string",
        {"main": {"type": "union", "refs": ["#s"]}, "s": {"type": "string"}},
        "defs.main.refs[0]: union member '#s' is not an object",
    ),
    (
        "alias cycle",
        {"main": {"type": "ref", "ref": "#b"}, "b": {"type": "ref", "ref": "#main"}},
        "ref cycle",
    ),
    (
        "bad param",
        {
            "main": {
                "type": "query",
                "parameters": {"type": "params", "properties": {"p": {"type": "object"}}},
            }
        },
        "defs.main.parameters.properties.p: a parameter must be",
    ),
    (
        "query input",
        {"main": {"type": "query", "input": {"encoding": "application/json"}}},
        "defs.main.input: a query has no input",
    ),
    (
        "record key",
        {"main": {"type": "record", "key": "uuid", "record": {"type": "object"}}},
        "defs.main.key: unknown record key type",
    ),
]


@pytest.mark.parametrize(("name", "content", "message"), BROKEN, ids=[b[0] for b in BROKEN])
def test_malformed_lexicons_fail_loudly(
    tmp_path: Path, name: str, content: Any, message: str
) -> None:
    path = tmp_path / "test" / "bad" / "doc.json"
    path.parent.mkdir(parents=True)
    if isinstance(content, dict) and "lexicon" not in content:
        content = {"lexicon": 1, "id": "test.bad.doc", "defs": content}
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    with pytest.raises(LexiconLoadError) as caught:
        LexiconRegistry.load(tmp_path)
    assert str(path) in str(caught.value)
    assert message in str(caught.value)
    assert caught.value.code == "lexicon_malformed"


def test_empty_directory_fails(tmp_path: Path) -> None:
    with pytest.raises(LexiconLoadError, match="no lexicon files"):
        LexiconRegistry.load(tmp_path)


def test_unknown_nsid_and_wrong_kind() -> None:
    with pytest.raises(UnknownLexiconError) as caught:
        REG.validate_record("dev.cocore.compute.nothing", {})
    assert caught.value.code == "lexicon_unknown"
    with pytest.raises(UnknownLexiconError) as wrong:
        REG.validate_record(ids.COMPUTE_LIST_RECEIPTS, {})
    assert wrong.value.code == "lexicon_wrong_kind"
    assert "is a query, not a record" in str(wrong.value)
    with pytest.raises(UnknownLexiconError):
        REG.validate_params(ids.COMPUTE_RECEIPT, {})
    with pytest.raises(UnknownLexiconError):
        REG.validate_input(ids.COMPUTE_LIST_RECEIPTS, {})


def test_params_coercion_list_receipts() -> None:
    params = {
        "provider": "did:plc:vectorprovideraaaaaaaaaa",
        "job": "at://did:plc:vectorrequesteraaaaaaaaa/dev.cocore.compute.job/3mlb62sluu22b",
        "ignored": "x",
    }
    assert REG.validate_params(ids.COMPUTE_LIST_RECEIPTS, params) == {
        "provider": "did:plc:vectorprovideraaaaaaaaaa",
        "job": params["job"],
    }
    with pytest.raises(LexiconValidationError) as caught:
        REG.validate_params(ids.COMPUTE_LIST_RECEIPTS, {"provider": "bob", "job": ["a", "b"]})
    assert [str(i) for i in caught.value.issues] == [
        "provider: invalid did 'bob': expected did:<method>:<identifier>",
        "job: expected one value, got 2",
    ]


def test_params_coercion_list_accounts() -> None:
    got = REG.validate_params(ids.ACCOUNT_LIST_ACCOUNTS, {"limit": "10", "providersOnly": "true"})
    assert got == {
        "limit": 10,
        "offset": 0,
        "sortBy": "recent",
        "providersOnly": True,
        "excludeViewerFriends": False,
    }
    bad: dict[str, str | list[str]] = {
        "limit": "101",
        "offset": "-1",
        "sortBy": "oldest",
        "providersOnly": "yes",
        "q": ["1", "2"],
    }
    with pytest.raises(LexiconValidationError) as caught:
        REG.validate_params(ids.ACCOUNT_LIST_ACCOUNTS, bad)
    assert [str(i) for i in caught.value.issues] == [
        "limit: must be at most 100, got 101",
        "offset: must be at least 0, got -1",
        "sortBy: must be one of 'recent', 'newest', got 'oldest'",
        "providersOnly: expected boolean (true or false)",
        "q: expected one value, got 2",
    ]
    for text in ("ten", "1_0", "١٢", "1.0", "+1", "01", "9" * 30):
        with pytest.raises(LexiconValidationError, match="limit: expected integer"):
            REG.validate_params(ids.ACCOUNT_LIST_ACCOUNTS, {"limit": text})


def test_required_params() -> None:
    with pytest.raises(LexiconValidationError, match="did: required parameter missing"):
        REG.validate_params(ids.ACCOUNT_GET_PROFILE, {})
    assert REG.validate_params(ids.COMPUTE_LATENCY, {"x": "1"}) == {}


def test_input_and_output_bodies() -> None:
    assert REG.validate_input(ids.ACCOUNT_CREATE_API_KEY, {"name": "laptop"}) == []
    assert paths(REG.validate_input(ids.ACCOUNT_CREATE_API_KEY, {"name": ""})) == ["name"]
    assert paths(REG.validate_input(ids.DEVICE_PAIR_START, {"x": 1})) == [""]
    assert REG.validate_input(ids.DEVICE_PAIR_START, None) == []
    out = {
        "keys": [
            {"id": "1", "did": "did:plc:abc", "name": "n", "prefix": "cocore-ab", "createdAt": "x"}
        ]
    }
    assert paths(REG.validate_output(ids.ACCOUNT_LIST_API_KEYS, out)) == ["keys[0].createdAt"]
    assert REG.validate_output(ids.INFERENCE_DISPATCH, "event: meta\n") == []  # text/event-stream


def test_ids_module_is_current() -> None:
    assert (REPO / "libs/cocore/lexicon/ids.py").read_text(encoding="utf-8") == gen.render(REG)
    assert gen.main(["--check"]) == 0
    assert ids.COMPUTE_RECEIPT == "dev.cocore.compute.receipt"
    assert ids.COM_ATPROTO_REPO_STRONG_REF in REG.ids
    assert REG.ids == {getattr(ids, gen.constant_name(nsid)) for nsid in REG.ids}


def test_editable_install_reads_the_repo_lexicons() -> None:
    assert default_directory() == REPO / "lexicons"
    assert REG.directory == REPO / "lexicons"


@given(st.binary(min_size=32, max_size=32), st.sampled_from([0x71, 0x55]))
def test_common_cid_shape_is_exactly_canonical_cids(digest: bytes, codec: int) -> None:
    import libipld

    cid = libipld.encode_cid(bytes([1, codec, 0x12, 32]) + digest)
    assert COMMON_CID.fullmatch(cid)
    parse_cid(cid)


@given(st.from_regex(COMMON_CID, fullmatch=True))
def test_common_cid_fast_path_only_admits_valid(cid: str) -> None:
    parse_cid(cid)


@given(st.from_regex(COMMON_DATETIME, fullmatch=True))
def test_common_datetime_fast_path_only_admits_valid(text: str) -> None:
    parse_datetime(text)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=6)
    ),
    max_leaves=40,
)
# Arbitrary values often miss every declared field; these keys make them land on the schema.
FIELDS = st.sampled_from(
    ["$type", "job", "price", "amount", "tokens", "in", "uri", "cid", "enclaveSignature", "tools"]
)
SHAPED = st.dictionaries(FIELDS, JSON, max_size=8)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(REG.record_nsids)), JSON | SHAPED)
def test_validate_record_never_raises(nsid: str, value: Any) -> None:
    issues = REG.validate_record(nsid, value)
    assert all(isinstance(i, ValidationIssue) for i in issues)
    assert len(issues) <= MAX_ISSUES


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["limit", "offset", "sortBy", "q", "viewerDid"]),
        st.text() | st.lists(st.text(), max_size=3),
    )
)
def test_validate_params_only_raises_typed_errors(params: dict[str, Any]) -> None:
    try:
        REG.validate_params(ids.ACCOUNT_LIST_ACCOUNTS, params)
    except LexiconValidationError as e:
        assert e.issues
