"""Hypothesis: syntax parsers only ever return their type or raise InvalidSyntaxError."""

from __future__ import annotations

import libipld
from hypothesis import given, settings
from hypothesis import strategies as st

from cocore.syntax import (
    InvalidSyntaxError,
    dag_cbor,
    parse_at_uri,
    parse_cid,
    parse_datetime,
    parse_did,
    parse_nsid,
    parse_tid,
    tid_from_parts,
)

PARSERS = [parse_at_uri, parse_cid, parse_datetime, parse_did, parse_nsid, parse_tid]

# Strings that look almost right exercise the interesting branches more than pure noise.
near_miss = st.one_of(
    st.text(max_size=80),
    st.from_regex(r"at://did:[a-z]{1,4}:[a-z0-9.%:-]{0,12}/[a-z.]{0,20}/[a-z0-9:~._-]{0,14}"),
    st.from_regex(r"b[a-z2-7]{10,70}"),
    st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}(\.[0-9]{0,10})?(Z|[+-][0-9:]{5})?"),
    st.from_regex(r"[2-7a-z]{11,15}"),
)


@settings(max_examples=400, deadline=None)
@given(value=near_miss)
def test_parsers_never_raise_anything_else(value: str) -> None:
    for parse in PARSERS:
        try:
            parsed = parse(value)
        except InvalidSyntaxError:
            continue
        assert parsed == value


@settings(max_examples=300, deadline=None)
@given(ts=st.integers(0, (1 << 53) - 1), clock_id=st.integers(0, 1023))
def test_tid_round_trip_and_order(ts: int, clock_id: int) -> None:
    tid = tid_from_parts(ts, clock_id)
    again = parse_tid(tid)
    assert (again.timestamp_us, again.clock_id) == (ts, clock_id)
    if ts > 0:
        assert tid_from_parts(ts - 1, clock_id) < tid


# Map keys never start with "$": a one-key {"$bytes": …} / {"$link": …} map is the atproto
# JSON spelling of bytes / a CID, which our encoder converts and libipld (rightly) does not.
keys = st.text(max_size=8).filter(lambda k: not k.startswith("$"))
ipld_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(value=st.dictionaries(keys, ipld_values, max_size=5))
def test_dag_cbor_matches_libipld_where_libipld_is_exact(value: dict[str, object]) -> None:
    # Without byte strings libipld is an exact DAG-CBOR encoder, so it is an oracle for ours.
    assert dag_cbor(value) == bytes(libipld.encode_dag_cbor(value))
