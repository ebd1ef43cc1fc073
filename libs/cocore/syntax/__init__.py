"""Syntax types: distinct string types that only their parse functions can build.

Every function here raises `InvalidSyntaxError` (an `InvalidInput`) with a one-line reason
on bad input. The types are `str` subclasses, so they serialise and compare as plain strings.
"""

from ._aturi import AtUri, make_at_uri, parse_at_uri
from ._base import InvalidSyntaxError, SyntaxString
from ._cid import (
    DAG_CBOR,
    RAW,
    Cid,
    cid_for_bytes,
    cid_for_digest,
    dag_cbor,
    parse_cid,
    record_cid,
)
from ._datetime import Datetime, format_datetime, parse_datetime
from ._identifiers import (
    Did,
    Handle,
    Nsid,
    RecordKey,
    parse_did,
    parse_handle,
    parse_nsid,
    parse_record_key,
)
from ._tid import Tid, TidClock, is_tid, next_tid, parse_tid, tid_from_parts

__all__ = [
    "DAG_CBOR",
    "RAW",
    "AtUri",
    "Cid",
    "Datetime",
    "Did",
    "Handle",
    "InvalidSyntaxError",
    "Nsid",
    "RecordKey",
    "SyntaxString",
    "Tid",
    "TidClock",
    "cid_for_bytes",
    "cid_for_digest",
    "dag_cbor",
    "format_datetime",
    "is_tid",
    "make_at_uri",
    "next_tid",
    "parse_at_uri",
    "parse_cid",
    "parse_datetime",
    "parse_did",
    "parse_handle",
    "parse_nsid",
    "parse_record_key",
    "parse_tid",
    "record_cid",
    "tid_from_parts",
]
