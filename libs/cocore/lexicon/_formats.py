"""Lexicon string formats: each checker returns None when valid, else a one-line message."""

from __future__ import annotations

import re
from collections.abc import Callable

from cocore.syntax import (
    InvalidSyntaxError,
    parse_cid,
    parse_datetime,
    parse_did,
    parse_handle,
    parse_nsid,
    parse_record_key,
    parse_tid,
)

from .issues import shown

FormatCheck = Callable[[str], str | None]

_MAX_URI = 8192
# The CIDs atproto writes (v1, dag-cbor or raw, sha2-256) are 36 bytes = "b" + 58 base32
# characters: the prefix bytes fix "afyrei"/"afkrei" and the top bits of the next character,
# and canonical base32 leaves the last character's 2 spare bits zero. Any string of this shape
# is a valid CID (tests cross-check parse_cid), so it skips the slower full decode.
COMMON_CID = re.compile(r"baf(?:yrei|krei)[a-h][a-z2-7]{50}[aeimquy4]")
# A UTC timestamp whose fields are in range on every calendar day (days 29-31, offsets and
# leap seconds take the full parser). Timestamps are unique per record, so no memo helps them.
COMMON_DATETIME = re.compile(
    r"(?!0000)[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,9})?Z"
)
# RFC 3986 scheme, then something that is not whitespace (an empty or `//`-only rest is refused).
_URI_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:(?://)?[^\s/]\S*")
# BCP 47 langtag (RFC 5646 §2.1), plus the `i-` grandfathered and `x-` private-use forms.
_LANG_RE = re.compile(
    r"(?:[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3}|[A-Za-z]{4,8})"
    r"(?:-[A-Za-z]{4})?"
    r"(?:-(?:[A-Za-z]{2}|[0-9]{3}))?"
    r"(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*"
    r"(?:-[0-9A-WY-Za-wy-z](?:-[A-Za-z0-9]{2,8})+)*"
    r"(?:-[xX](?:-[A-Za-z0-9]{1,8})+)?"
    r"|[xXiI](?:-[A-Za-z0-9]{1,8})+"
)


def _remembered(check: FormatCheck, size: int = 4096) -> FormatCheck:
    """Skip re-checking strings already proven valid: DIDs, collections and the attestation
    strongRef repeat across most records on the firehose. Only valid values are kept, and the
    set is emptied when full, so memory stays bounded and a flood only costs a cold check."""
    seen: set[str] = set()

    def check_once(value: str) -> str | None:
        if value in seen:
            return None
        problem = check(value)
        if problem is None:
            if len(seen) >= size:
                seen.clear()
            seen.add(value)
        return problem

    return check_once


def _why(e: InvalidSyntaxError, value: str) -> str:
    # The syntax errors read "invalid <kind> <repr, cut at 80>: <why>"; keep only the why.
    r = repr(value)
    prefix = f"invalid {e.code.removeprefix('invalid_')} {r if len(r) <= 80 else r[:77] + '...'}: "
    return e.message.removeprefix(prefix)


def _bad(fmt: str, value: str, why: str) -> str:
    return f"invalid {fmt} {shown(value)}: {why}"


def _from_parser(fmt: str, parse: Callable[[object], object]) -> FormatCheck:
    def check(value: str) -> str | None:
        try:
            parse(value)
        except InvalidSyntaxError as e:
            return _bad(fmt, value, _why(e, value))
        return None

    return check


def _cid(value: str) -> str | None:
    return None if COMMON_CID.fullmatch(value) else _FULL_CID(value)


_FULL_CID = _from_parser("cid", parse_cid)


def _datetime(value: str) -> str | None:
    return None if COMMON_DATETIME.fullmatch(value) else _FULL_DATETIME(value)


_FULL_DATETIME = _from_parser("datetime", parse_datetime)


def _at_identifier(value: str) -> str | None:
    parse = parse_did if value.startswith("did:") else parse_handle
    try:
        parse(value)
    except InvalidSyntaxError as e:
        return _bad("at-identifier", value, _why(e, value))
    return None


def _at_uri(value: str) -> str | None:
    """The lexicon at-uri: at://AUTHORITY[/COLLECTION[/RKEY]], no query, no fragment."""
    why = _at_uri_problem(value)
    return None if why is None else _bad("at-uri", value, why)


def _at_uri_problem(value: str) -> str | None:
    if len(value) > _MAX_URI:
        return f"longer than {_MAX_URI} characters"
    if not value.startswith("at://"):
        return "must start with at://"
    if "?" in value or "#" in value:
        return "query and fragment are not allowed in lexicon at-uris"
    parts = value[5:].split("/")
    if len(parts) > 3 or not all(parts):
        return "expected at://<authority>[/<collection>[/<rkey>]] with no empty segment"
    problem = _AT_IDENTIFIER(parts[0]) or (_NSID(parts[1]) if len(parts) > 1 else None)
    if problem is None and len(parts) > 2:
        try:
            parse_record_key(parts[2])
        except InvalidSyntaxError as e:
            return e.message
    return problem


def _uri(value: str) -> str | None:
    if len(value) > _MAX_URI:
        return _bad("uri", value, f"longer than {_MAX_URI} characters")
    if not _URI_RE.fullmatch(value):
        return _bad("uri", value, "expected <scheme>:<something> with no whitespace")
    return None


def _language(value: str) -> str | None:
    if len(value) > 128 or not _LANG_RE.fullmatch(value):
        return _bad("language", value, "expected a BCP 47 language tag such as en or pt-BR")
    return None


_AT_IDENTIFIER = _remembered(_at_identifier)
_NSID = _remembered(_from_parser("nsid", parse_nsid), size=1024)

FORMATS: dict[str, FormatCheck] = {
    "did": _remembered(_from_parser("did", parse_did)),
    "handle": _remembered(_from_parser("handle", parse_handle)),
    "at-identifier": _AT_IDENTIFIER,
    "nsid": _NSID,
    "at-uri": _remembered(_at_uri),
    "cid": _cid,
    "datetime": _datetime,
    "uri": _uri,
    "language": _language,
    "tid": _from_parser("tid", parse_tid),
    "record-key": _from_parser("record-key", parse_record_key),
}
