"""Terms: paid use needs the account's latest acceptance for the active policy's terms.

The acceptance is a `compute.termsAcceptance` in the user's own repo, countersigned by the
exchange; its signature is checked against the key the exchange publishes, so a record the
user wrote alone does not count. A positive answer is cached; a refusal only briefly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from cocore.atproto import AtprotoError
from cocore.crypto import CryptoError, PublicKey, b64url_decode_strict
from cocore.lexicon import ids
from cocore.signing import exchange_record_signing_bytes
from cocore.syntax import parse_did

from .cache import TtlCache
from .errors import TermsNotAccepted, Unavailable
from .policy import Policy
from .repos import RepoReader

NEGATIVE_TTL_S = 2.0
SCAN = 20  # acceptances read back, newest first, to find this exchange's latest


class TermsGate:
    def __init__(
        self, repos: RepoReader, ttl_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.repos = repos
        self._accepted: TtlCache[tuple[str, str], bool] = TtlCache(ttl_s, clock)

    async def require(self, did: str, policy: Policy) -> None:
        if not policy.terms_version:
            return
        key = (did, f"{policy.exchange}|{policy.terms_version}")
        found, ok = self._accepted.get(key)
        if not found:
            ok = await self._read(did, policy)
            self._accepted.put(key, ok, None if ok else NEGATIVE_TTL_S)
        if not ok:
            raise TermsNotAccepted(
                f"accept the exchange's terms {policy.terms_version} ({policy.terms_uri}) "
                "first: `cocore account accept-terms`",
                details={"terms_uri": policy.terms_uri, "terms_version": policy.terms_version},
            )

    def accepted(self, did: str, policy: Policy) -> None:
        """The gateway just wrote an acceptance for `did`."""
        self._accepted.put((did, f"{policy.exchange}|{policy.terms_version}"), True)

    def forget(self) -> None:
        self._accepted.clear()

    async def _read(self, did: str, policy: Policy) -> bool:
        try:
            client = await self.repos.client(did)
            page = await client.list_records(parse_did(did), ids.COMPUTE_TERMS_ACCEPTANCE, SCAN)
        except AtprotoError as e:
            raise Unavailable("cannot read your terms acceptance from your PDS",
                              code="pds_unavailable") from e  # fmt: skip
        for view in page.records:  # newest first
            if view.value.get("exchange") == str(policy.exchange):
                return matches(view.value, policy)
        return False


def matches(record: dict[str, Any], policy: Policy) -> bool:
    if record.get("termsVersion") != policy.terms_version or not policy.signing_key_jwk:
        return False
    sig = record.get("sig")
    if not isinstance(sig, str):
        return False
    try:
        key = PublicKey.from_jwk(policy.signing_key_jwk)
        return key.verify_raw(b64url_decode_strict(sig), exchange_record_signing_bytes(record))
    except (CryptoError, ValueError, TypeError):
        return False
