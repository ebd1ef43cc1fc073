"""The AppView's errors, each in the `cocore.errors` group its callers act on."""

from __future__ import annotations

from cocore.errors import InvalidInput, NotFound, Unavailable


class InvalidRequest(InvalidInput):
    """A query's parameters are missing or malformed."""

    default_code = "invalid_request"


class InvalidCursor(InvalidInput):
    default_code = "invalid_cursor"


class MethodNotFound(NotFound):
    default_code = "method_not_found"


class RecordNotFound(NotFound):
    """The record (or one it references) is not indexed and its PDS does not have it."""

    default_code = "record_not_found"


class ProfileNotFound(NotFound):
    default_code = "profile_not_found"


class UpstreamUnavailable(Unavailable):
    """A PDS or DID directory the AppView needed did not answer usably."""

    default_code = "upstream_unavailable"


class StoreUnavailable(Unavailable):
    """The index database failed a read; retrying may help."""

    default_code = "store_unavailable"
