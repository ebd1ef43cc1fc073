"""Syntax types: valid and invalid examples for each, monotonic TIDs, record CIDs."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import pytest

from cocore.errors import InvalidInput
from cocore.syntax import (
    AtUri,
    Did,
    InvalidSyntaxError,
    TidClock,
    cid_for_bytes,
    format_datetime,
    make_at_uri,
    parse_at_uri,
    parse_cid,
    parse_datetime,
    parse_did,
    parse_handle,
    parse_nsid,
    parse_record_key,
    parse_tid,
    record_cid,
    tid_from_parts,
)

VALID: dict[Callable[[object], object], list[str]] = {
    parse_did: [
        "did:plc:vectorprovideraaaaaaaaaa",
        "did:web:exchange.vectors.example",
        "did:web:localhost%3A2583",
        "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme",
        "did:method:val:two",
        "did:m:v",
    ],
    parse_handle: ["alice.test", "Alice.Example.COM", "a.b.c.d", "xn--ls8h.test", "a-b.c1.de"],
    parse_nsid: ["dev.cocore.compute.receipt", "com.atproto.repo.strongRef", "a.b.c", "a-0.b.C9"],
    parse_record_key: ["3mlb64ooic225", "self", "a:b~c_d-e.f", "x" * 512],
    parse_tid: ["3mlb64ooic225", "2222222222222", "jzzzzzzzzzzzz"],
    parse_datetime: [
        "2026-05-07T12:00:03Z",
        "2026-05-07T12:00:03.123Z",
        "2026-05-07T12:00:03.123456789+02:00",
        "1985-04-12T23:20:50.52-05:30",
    ],
    parse_cid: [
        "bafyreifydt62ufc7tle75a7gl3cbqtknrkp57ysea2csdyaqrhz7mqhnn4",
        "bafkreifydt62ufc7tle75a7gl3cbqtknrkp57ysea2csdyaqrhz7mqhnn4",
    ],
}

INVALID: dict[Callable[[object], object], list[object]] = {
    parse_did: [
        "",
        "did",
        "did:",
        "did:plc",
        "did:plc:",
        "did:PLC:abc",
        "did:plc:abc:",
        "did:plc:ab%",
        "did:plc:ab%zz",
        "did:plc:a b",
        "did:plc:é",
        "DID:plc:abc",
        "did:plc:" + "a" * 2048,
        None,
        42,
    ],
    parse_handle: ["alice", ".test", "alice.", "a..b", "-a.test", "a-.test", "a.1test", "al ice.t"],
    parse_nsid: ["a.b", "dev.cocore.", "dev..cocore.x", "1ev.cocore.x", "dev.cocore.9x", "a.b.c-d"],
    parse_record_key: ["", ".", "..", "a/b", "a b", "x" * 513, "é"],
    parse_tid: [
        "",
        "3mlb64ooic22",
        "3mlb64ooic2255",
        "kmlb64ooic225",
        "3mlb64ooic22A",
        "3mlb64ooic221",
    ],
    parse_datetime: [
        "2026-05-07",
        "2026-05-07 12:00:03Z",
        "2026-05-07t12:00:03z",
        "2026-05-07T12:00:03",
        "2026-05-07T12:00:03-00:00",
        "2026-13-07T12:00:03Z",
        "2026-02-30T12:00:03Z",
        "2026-05-07T25:00:03Z",
        "2026-05-07T12:00:03.Z",
    ],
    parse_cid: [
        "",
        "bafy",
        "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG",  # CIDv0
        "Bafyreifydt62ufc7tle75a7gl3cbqtknrkp57ysea2csdyaqrhz7mqhnn4",  # not base32-lower
        "zdj7WhuEjrB52m1BisYCtmjH1hSKa7yZ3jEZ9JcXaFRD51wVz",  # base58 multibase
        "bafyreifydt62ufc7tle75a7gl3cbqtknrkp57ysea2csdyaqrhz7mqhnn",  # truncated
    ],
}


@pytest.mark.parametrize(
    ("parse", "value"), [(p, v) for p, vs in VALID.items() for v in vs], ids=repr
)
def test_valid(parse: Callable[[object], object], value: str) -> None:
    parsed = parse(value)
    assert parsed == (value.lower() if parse is parse_handle else value)
    assert isinstance(parsed, str)


@pytest.mark.parametrize(
    ("parse", "value"), [(p, v) for p, vs in INVALID.items() for v in vs], ids=repr
)
def test_invalid(parse: Callable[[object], object], value: object) -> None:
    with pytest.raises(InvalidSyntaxError) as info:
        parse(value)
    assert isinstance(info.value, InvalidInput)
    assert "\n" not in str(info.value)
    assert info.value.code.startswith("invalid_")


def test_types_are_only_built_by_parsers() -> None:
    with pytest.raises(TypeError):
        Did("did:plc:abc")
    with pytest.raises(TypeError):
        AtUri("not even a uri")


def test_parsed_types_pickle_and_keep_their_type() -> None:
    did = parse_did("did:plc:abc")
    again = pickle.loads(pickle.dumps(did))
    assert again == did and type(again) is Did


def test_did_parts() -> None:
    did = parse_did("did:web:example.com%3A8443")
    assert (did.method, did.identifier) == ("web", "example.com%3A8443")


def test_nsid_parts() -> None:
    nsid = parse_nsid("dev.cocore.compute.receipt")
    assert (nsid.authority, nsid.name) == ("compute.cocore.dev", "receipt")


def test_at_uri_parts_and_strictness() -> None:
    uri = parse_at_uri("at://did:plc:abc/dev.cocore.compute.receipt/3kfgl")
    assert (uri.repo, uri.collection, uri.rkey) == (
        "did:plc:abc",
        "dev.cocore.compute.receipt",
        "3kfgl",
    )
    assert make_at_uri(uri.repo, uri.collection, uri.rkey) == uri
    for bad in [
        "at://did:plc:abc/dev.cocore.compute.receipt/3kfgl/extra",  # reference ignores; we refuse
        "at://did:plc:abc/dev.cocore.compute.receipt/3kfgl?x=1",
        "at://did:plc:abc/dev.cocore.compute.receipt/3kfgl#f",
        "at://did:plc:abc/dev.cocore.compute.receipt/",
        "at://did:plc:abc/not-an-nsid/3kfgl",
    ]:
        with pytest.raises(InvalidSyntaxError):
            parse_at_uri(bad)


def test_tid_clock_is_strictly_monotonic_even_when_time_stands_still_or_steps_back() -> None:
    times = iter([1_000, 1_000, 999, 5_000, 4_000, 4_000])
    clock = TidClock(now_us=lambda: next(times), clock_id=7)
    tids = [clock.next() for _ in range(6)]
    assert tids == sorted(tids) and len(set(tids)) == 6
    assert [t.timestamp_us for t in tids] == [1_000, 1_001, 1_002, 5_000, 5_001, 5_002]
    assert all(t.clock_id == 7 for t in tids)
    assert all(parse_tid(t) == t for t in tids)


def test_tid_from_parts_bounds() -> None:
    with pytest.raises(InvalidSyntaxError):
        tid_from_parts(-1, 0)
    with pytest.raises(InvalidSyntaxError):
        tid_from_parts(0, 1024)
    # 53 + 10 bits never reach the top of the 13-char space (the spec allows up to "j").
    assert tid_from_parts((1 << 53) - 1, 1023) == "bzzzzzzzzzzzz"


def test_datetime_value_and_format() -> None:
    dt = parse_datetime("2026-05-07T14:00:03.5+02:00")
    assert dt.value.isoformat() == "2026-05-07T12:00:03.500000+00:00"
    assert format_datetime(dt.value) == "2026-05-07T12:00:03.500Z"


def test_record_cid_refuses_floats_and_odd_values() -> None:
    assert record_cid({"a": 1}) == record_cid({"a": 1})
    # Deliberately not all the Mapping[str, Any] that record_cid is typed to take.
    bads: tuple[dict[Any, Any], ...] = ({"a": 1.5}, {"a": {1, 2}}, {"a": 2**64}, {1: "x"})
    for bad in bads:
        with pytest.raises(InvalidSyntaxError):
            record_cid(bad)


def test_record_cid_converts_links_and_bytes() -> None:
    link = "bafkreifydt62ufc7tle75a7gl3cbqtknrkp57ysea2csdyaqrhz7mqhnn4"
    blob = {"$type": "blob", "ref": {"$link": link}, "mimeType": "image/png", "size": 3}
    assert record_cid({"avatar": blob}) != record_cid({"avatar": {**blob, "ref": link}})
    assert record_cid({"b": {"$bytes": "AAE"}}) == record_cid({"b": {"$bytes": "AAE="}})


def test_record_cid_keeps_cid_shaped_bytes_as_bytes() -> None:
    # b"\x01\x01\x01\x01\x01" parses as a CIDv1; libipld would encode it as a tag-42 link,
    # while the PDS stores `$bytes` as a CBOR byte string (seen live against the real PDS).
    record = {"b": {"$bytes": "AQEBAQE"}}
    assert record_cid(record) == cid_for_bytes(bytes.fromhex("a1616245") + b"\x01" * 5)


def test_cid_for_digest_is_cid_for_bytes_without_hashing_again() -> None:
    import hashlib

    from cocore.syntax import RAW, cid_for_digest

    data = b"\x01" * 10
    digest = hashlib.sha256(data).digest()
    assert cid_for_digest(digest) == cid_for_bytes(data)
    assert cid_for_digest(digest, RAW) == cid_for_bytes(data, RAW)
    with pytest.raises(InvalidInput):
        cid_for_digest(digest[:31])
