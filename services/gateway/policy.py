"""The exchange's active policy as the gateway uses it: who settles, at what rate, which terms."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from cocore.canonical import loads_strict
from cocore.syntax import Did, parse_did

from .errors import Unavailable
from .pricing import TokenRate


@dataclass(frozen=True, slots=True)
class Policy:
    exchange: Did
    uri: str
    cid: str
    rate: TokenRate
    terms_uri: str | None
    terms_version: str | None
    signing_key_jwk: dict[str, Any]

    @property
    def currency(self) -> str:
        return self.rate.currency

    @property
    def ref(self) -> dict[str, str]:
        return {"uri": self.uri, "cid": self.cid}


def policy_from(exchange_did: str, uri: str, cid: str, record: bytes, jwk: str) -> Policy:
    body = loads_strict(record)
    rate = body["tokenRate"]
    return Policy(
        exchange=parse_did(exchange_did), uri=uri, cid=cid,
        rate=TokenRate(int(rate["inputPricePerMTok"]), int(rate["outputPricePerMTok"]),
                       str(rate["currency"])),
        terms_uri=body.get("termsUri"), terms_version=body.get("termsVersion"),
        signing_key_jwk=loads_strict(jwk) if jwk else {},
    )  # fmt: skip


class PolicySource:
    """The active policy, fetched from the exchange and re-read every `ttl_s` (single flight)."""

    def __init__(self, fetch: Callable[[], Awaitable[Policy]], ttl_s: float = 60.0) -> None:
        self._fetch = fetch
        self._ttl_s = ttl_s
        self._policy: Policy | None = None
        self._at = 0.0
        self._lock = asyncio.Lock()

    async def current(self) -> Policy:
        if self._policy is not None and time.monotonic() - self._at < self._ttl_s:
            return self._policy
        async with self._lock:
            if self._policy is None or time.monotonic() - self._at >= self._ttl_s:
                try:
                    self._policy = await self._fetch()
                except Unavailable:
                    if self._policy is None:
                        raise
                    # keep serving the last policy we know while the exchange is away
                self._at = time.monotonic()
            return self._policy
