"""DIDs, handles, NSIDs and record keys (atproto syntax rules)."""

from __future__ import annotations

import re

from ._base import _PARSED, SyntaxString, reject, require_str

_DID_RE = re.compile(r"did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]")
_HANDLE_RE = re.compile(
    r"([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
)
_NSID_RE = re.compile(
    r"[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+"
    r"\.[a-zA-Z][a-zA-Z0-9]{0,62}"
)
_RKEY_RE = re.compile(r"[A-Za-z0-9._:~-]{1,512}")
_PCT_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")


class Did(SyntaxString):
    """A decentralised identifier, e.g. `did:plc:…` or `did:web:host`."""

    __slots__ = ()
    kind = "did"

    @property
    def method(self) -> str:
        return self.split(":", 2)[1]

    @property
    def identifier(self) -> str:
        return self.split(":", 2)[2]


class Handle(SyntaxString):
    """A DNS-style account handle, e.g. `alice.test`, stored lower-cased."""

    __slots__ = ()
    kind = "handle"


class Nsid(SyntaxString):
    """A namespaced identifier, e.g. `dev.cocore.compute.receipt`."""

    __slots__ = ()
    kind = "nsid"

    @property
    def authority(self) -> str:
        return ".".join(reversed(self.split(".")[:-1]))

    @property
    def name(self) -> str:
        return self.rsplit(".", 1)[1]


class RecordKey(SyntaxString):
    """A record key inside a collection (for cocore records, a TID)."""

    __slots__ = ()
    kind = "record_key"


def parse_did(value: object) -> Did:
    """Parse a DID per the atproto DID syntax (any method; at most 2048 characters)."""
    s = require_str("did", value, 2048)
    if not _DID_RE.fullmatch(s):
        raise reject("did", s, "expected did:<method>:<identifier>")
    if _PCT_RE.search(s):
        raise reject("did", s, "'%' must start a two-digit hex escape")
    return Did(s, _PARSED)


def parse_handle(value: object) -> Handle:
    """Parse a handle: at least two DNS labels, the last starting with a letter."""
    s = require_str("handle", value, 253)
    if not _HANDLE_RE.fullmatch(s):
        raise reject("handle", s, "expected a domain name such as alice.example.com")
    return Handle(s.lower(), _PARSED)


def parse_nsid(value: object) -> Nsid:
    """Parse an NSID: reversed domain authority plus a name segment, 3+ segments."""
    s = require_str("nsid", value, 317)
    if not _NSID_RE.fullmatch(s):
        raise reject("nsid", s, "expected reversed-domain segments and a name (a.b.name)")
    if len(s) - len(s.rsplit(".", 1)[1]) - 1 > 253:
        raise reject("nsid", s, "domain authority longer than 253 characters")
    return Nsid(s, _PARSED)


def parse_record_key(value: object) -> RecordKey:
    """Parse a record key: 1-512 of [A-Za-z0-9._:~-], never '.' or '..'."""
    s = require_str("record_key", value, 512)
    if not _RKEY_RE.fullmatch(s) or s in (".", ".."):
        raise reject("record_key", s, "expected 1-512 characters of [A-Za-z0-9._:~-]")
    return RecordKey(s, _PARSED)
