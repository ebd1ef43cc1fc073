"""Service-auth JWTs are single use: a `jti` seen before (until its `exp`) is refused."""

from __future__ import annotations

import time
from collections.abc import Callable

from .cache import TtlCache
from .errors import InvalidApiKey

SKEW_S = 30


class ReplayGuard:
    def __init__(self, clock: Callable[[], float] = time.time, max_entries: int = 100_000) -> None:
        self._clock = clock
        self._seen: TtlCache[tuple[str, str], bool] = TtlCache(0, clock, max_entries)

    def check(self, iss: str, jti: str | None, exp: int) -> None:
        if not jti:
            raise InvalidApiKey("service token has no jti (single-use tokens only)",
                                code="jwt_no_jti")  # fmt: skip
        key = (iss, jti)
        found, _ = self._seen.get(key)
        if found:
            raise InvalidApiKey("service token was already used", code="jwt_replayed")
        self._seen.put(key, True, max(1.0, exp + SKEW_S - self._clock()))
