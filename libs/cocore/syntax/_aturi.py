"""AT-URIs that name a record: at://<did>/<collection>/<rkey>."""

from __future__ import annotations

from ._base import _PARSED, InvalidSyntaxError, SyntaxString, reject, require_str
from ._identifiers import Did, Nsid, RecordKey, parse_did, parse_nsid, parse_record_key


class AtUri(SyntaxString):
    """The address of one record. Only DID authorities are accepted (handles can move)."""

    __slots__ = ()
    kind = "at_uri"

    # Parts are sliced, not re-parsed: parse_at_uri already proved each one valid.
    @property
    def repo(self) -> Did:
        return Did(self[5:].split("/", 1)[0], _PARSED)

    @property
    def collection(self) -> Nsid:
        return Nsid(self[5:].split("/")[1], _PARSED)

    @property
    def rkey(self) -> RecordKey:
        return RecordKey(self[5:].split("/")[2], _PARSED)


def _split(uri: str) -> tuple[Did, Nsid, RecordKey]:
    repo, collection, rkey = uri[5:].split("/")
    return parse_did(repo), parse_nsid(collection), parse_record_key(rkey)


def parse_at_uri(value: object) -> AtUri:
    """Parse `at://<did>/<collection>/<rkey>`.

    Stricter than the reference parser, which silently ignores extra path segments: a URI
    with more (or fewer) than three parts, a query or a fragment is rejected.
    """
    s = require_str("at_uri", value, 8192)
    if not s.startswith("at://"):
        raise reject("at_uri", s, "must start with at://")
    if "?" in s or "#" in s:
        raise reject("at_uri", s, "a record URI has no query or fragment")
    parts = s[5:].split("/")
    if len(parts) != 3:
        raise reject("at_uri", s, "expected at://<did>/<collection>/<rkey>")
    try:
        _split(s)
    except InvalidSyntaxError as e:  # say which URI the bad part came from
        raise reject("at_uri", s, str(e)) from e
    return AtUri(s, _PARSED)


def make_at_uri(repo: Did, collection: Nsid, rkey: RecordKey) -> AtUri:
    """Build the URI of a record from already-parsed parts."""
    return AtUri(f"at://{repo}/{collection}/{rkey}", _PARSED)
