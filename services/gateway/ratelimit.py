"""Per-key limits: requests and tokens per minute (token buckets) and an optional budget.

Buckets live in this process: with N gateway replicas a key gets up to N× its limit (put a
shared limiter behind `RateLimiter` if that matters). Refusals carry `retry_after_s`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from .errors import RateLimited


@dataclass(slots=True)
class _Bucket:
    level: float
    at: float


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._requests: dict[str, _Bucket] = {}
        self._tokens: dict[str, _Bucket] = {}

    def admit(self, key_id: str, rpm: int, tpm: int) -> None:
        """Take one request from the key's bucket; refuse while its token bucket is empty."""
        now = self._clock()
        if tpm > 0:
            tokens = self._refill(self._tokens, key_id, tpm, now)
            if tokens.level < 1:
                raise _limited("tokens per minute", tpm, (1 - tokens.level) * 60 / tpm)
        if rpm > 0:
            requests = self._refill(self._requests, key_id, rpm, now)
            if requests.level < 1:
                raise _limited("requests per minute", rpm, (1 - requests.level) * 60 / rpm)
            requests.level -= 1

    def record_tokens(self, key_id: str, tokens: int, tpm: int) -> None:
        """Charge what a request really used (the bucket may go negative: the next waits)."""
        if tpm > 0 and tokens > 0:
            bucket = self._refill(self._tokens, key_id, tpm, self._clock())
            bucket.level -= tokens

    @staticmethod
    def _refill(buckets: dict[str, _Bucket], key: str, per_minute: int, now: float) -> _Bucket:
        bucket = buckets.get(key)
        if bucket is None:
            bucket = buckets[key] = _Bucket(float(per_minute), now)
        bucket.level = min(float(per_minute), bucket.level + (now - bucket.at) * per_minute / 60)
        bucket.at = now
        return bucket


def _limited(what: str, limit: int, wait_s: float) -> RateLimited:
    retry = max(1, math.ceil(wait_s))
    return RateLimited(
        f"rate limit reached: {limit} {what} for this key; retry in {retry} s",
        details={"retry_after_s": retry, "limit": limit},
    )
