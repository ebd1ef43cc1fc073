"""The link's errors: why a stream ended or could not start (codes from the matchmaker)."""

from __future__ import annotations

from cocore.errors import Unavailable


class LinkError(Unavailable):
    """The stream failed; `code` is the matchmaker's (e.g. "register_auth_failed")."""

    default_code = "link_failed"
