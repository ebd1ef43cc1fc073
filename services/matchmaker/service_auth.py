"""Gateway → matchmaker (and replica → replica) calls carry the shared service credential."""

from __future__ import annotations

import hmac
from typing import Any

from .errors import ServiceAuthFailed

FORWARDED_HEADER = "x-cocore-forwarded-by"  # set by a replica forwarding an attempt


_REQUIRED = "service_auth_required"


class ServiceCredential:
    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

    def check(self, context: Any) -> dict[str, str]:
        """The call's metadata, once its bearer credential matches; ServiceAuthFailed if not."""
        metadata = {k: v for k, v in context.invocation_metadata() or () if isinstance(v, str)}
        given = metadata.get("authorization", "").encode()
        if not given:
            raise ServiceAuthFailed(
                "this call needs the service credential", code="service_auth_required"
            )
        if not hmac.compare_digest(given, self._expected):
            raise ServiceAuthFailed("the service credential is not valid")
        return metadata
