"""The exchange's tokenRate: read from its active `exchangePolicy`, and the price it gives a job.

Rounding: `price = floor((tokens_in × inRate + tokens_out × outRate) / 1e6)` minor units. The
exchange accepts `|price − exact| ≤ 1` (services/exchange/formulas.py `price_matches_rate`),
and flooring the sum is never more than the exact price and never a whole unit under it, so
the provider never over-charges and every receipt passes the exchange's check.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cocore.atproto import AtprotoClient, AtprotoError, IdentityResolver
from cocore.lexicon import default_registry, ids
from cocore.syntax import Did

from ..errors import PolicyInvalid, PolicyUnavailable

log = logging.getLogger("cocore.provider.policy")
MICRO = 1_000_000


@dataclass(frozen=True, slots=True)
class TokenRate:
    in_per_mtok: int
    out_per_mtok: int
    currency: str
    policy_uri: str = ""

    def price(self, tokens_in: int, tokens_out: int) -> int:
        assert tokens_in >= 0 and tokens_out >= 0
        return (tokens_in * self.in_per_mtok + tokens_out * self.out_per_mtok) // MICRO

    def price_list(self, models: Iterable[str]) -> list[dict[str, Any]]:
        """The provider record's `priceList`, denormalised from the rate (one entry a model)."""
        return [
            {"modelId": m, "inputPricePerMTok": self.in_per_mtok,
             "outputPricePerMTok": self.out_per_mtok, "currency": self.currency}
            for m in models
        ]  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {"inputPricePerMTok": self.in_per_mtok, "outputPricePerMTok": self.out_per_mtok,
                "currency": self.currency, "policyUri": self.policy_uri}  # fmt: skip

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> TokenRate:
        rate = rate_from(value)
        uri = value.get("policyUri")
        return TokenRate(rate.in_per_mtok, rate.out_per_mtok, rate.currency, str(uri or ""))


def rate_from(value: Mapping[str, Any]) -> TokenRate:
    """A `compute.defs#tokenRate` object → TokenRate (PolicyInvalid when it is not one)."""
    issues = default_registry().validate_record(ids.COMPUTE_EXCHANGE_POLICY, _probe_policy(value))
    tokens = [i for i in issues if i.path.startswith("tokenRate")]
    if tokens:
        raise PolicyInvalid(f"the exchange's tokenRate is invalid at {tokens[0].path}")
    return TokenRate(value["inputPricePerMTok"], value["outputPricePerMTok"], value["currency"])


def _probe_policy(rate: Mapping[str, Any]) -> dict[str, Any]:
    """A minimal policy around `rate`, so the lexicon validator checks the tokenRate shape."""
    return {
        "exchange": "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa",
        "fee": {"bps": 0, "minMinor": 0, "currency": "CCC"},
        "supportedCurrencies": ["CCC"],
        "selfLoop": {"feeWaived": True},
        "createdAt": "2026-01-01T00:00:00.000Z",
        "tokenRate": dict(rate),
    }


def choose_active(exchange: Did, records: Iterable[tuple[str, Mapping[str, Any]]]) -> TokenRate:
    """The newest active policy of `exchange` that carries a tokenRate."""
    candidates = [
        (str(value.get("createdAt", "")), uri, value)
        for uri, value in records
        if value.get("exchange") == exchange and value.get("active", True) is not False
    ]
    if not candidates:
        raise PolicyUnavailable(f"{exchange} publishes no active exchangePolicy")
    _created, uri, value = max(candidates, key=lambda c: (c[0], c[1]))
    if not isinstance(value.get("tokenRate"), Mapping):
        raise PolicyInvalid("the exchange's active policy has no tokenRate")
    rate = rate_from(value["tokenRate"])
    return TokenRate(rate.in_per_mtok, rate.out_per_mtok, rate.currency, uri)


async def fetch_rate(resolver: IdentityResolver, exchange: Did) -> TokenRate:
    """Read the exchange's repo on its own PDS (found through its DID document)."""
    try:
        pds = await resolver.pds_endpoint(exchange)
        if pds is None:
            raise PolicyUnavailable(f"{exchange} names no PDS in its DID document")
        async with AtprotoClient.anonymous(pds, transport=resolver.transport()) as client:
            records = [
                (str(view.uri), view.value)
                async for view in client.iter_records(exchange, ids.COMPUTE_EXCHANGE_POLICY)
            ]
    except AtprotoError as e:
        raise PolicyUnavailable(f"cannot read {exchange}'s policy ({e.code})") from None
    return choose_active(exchange, records)
