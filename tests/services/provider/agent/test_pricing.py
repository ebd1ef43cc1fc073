"""The tokenRate price: floored, never over the exact price, always inside the exchange's ±1."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.exchange.formulas import price_matches_rate
from services.provider.errors import PolicyInvalid, PolicyUnavailable
from services.provider.records.pricing import TokenRate, choose_active

from .factory import EXCHANGE

counts = st.integers(min_value=0, max_value=10**9)
rates = st.integers(min_value=0, max_value=10**10)


@given(counts, counts, rates, rates)
def test_every_price_passes_the_exchange_check(
    t_in: int, t_out: int, r_in: int, r_out: int
) -> None:
    rate = TokenRate(r_in, r_out, "CC")
    price = rate.price(t_in, t_out)
    assert price_matches_rate(price, t_in, t_out, r_in, r_out)
    assert price * 1_000_000 <= t_in * r_in + t_out * r_out  # never over-charges


def test_price_rounds_down_and_price_list_denormalises_the_rate() -> None:
    rate = TokenRate(1_500_000, 2_000_000, "CC")
    assert rate.price(3, 1) == 6  # 4.5 + 2 = 6.5 → 6
    assert rate.price(0, 0) == 0
    assert rate.price_list(["a"]) == [
        {"modelId": "a", "inputPricePerMTok": 1_500_000, "outputPricePerMTok": 2_000_000,
         "currency": "CC"}
    ]  # fmt: skip


def policy(created: str, *, active: bool = True, rate: int = 1_000_000) -> dict[str, object]:
    return {
        "exchange": EXCHANGE, "active": active, "createdAt": created,
        "tokenRate": {"inputPricePerMTok": rate, "outputPricePerMTok": rate, "currency": "CC"},
    }  # fmt: skip


def test_the_newest_active_policy_of_that_exchange_wins() -> None:
    records = [
        ("at://x/p/1", policy("2026-01-01T00:00:00.000Z", rate=1)),
        ("at://x/p/2", policy("2026-03-01T00:00:00.000Z", rate=2)),
        ("at://x/p/3", policy("2026-04-01T00:00:00.000Z", rate=3, active=False)),
        ("at://x/p/4", {**policy("2026-05-01T00:00:00.000Z", rate=4), "exchange": "did:plc:o"}),
    ]
    chosen = choose_active(EXCHANGE, records)
    assert (chosen.in_per_mtok, chosen.policy_uri) == (2, "at://x/p/2")


def test_no_policy_or_a_bad_rate_is_refused() -> None:
    with pytest.raises(PolicyUnavailable):
        choose_active(EXCHANGE, [])
    bad = policy("2026-01-01T00:00:00.000Z")
    bad["tokenRate"] = {"inputPricePerMTok": -1, "outputPricePerMTok": 1, "currency": "CC"}
    with pytest.raises(PolicyInvalid):
        choose_active(EXCHANGE, [("at://x/p/1", bad)])
    no_rate = {k: v for k, v in policy("2026-01-01T00:00:00.000Z").items() if k != "tokenRate"}
    with pytest.raises(PolicyInvalid):
        choose_active(EXCHANGE, [("at://x/p/1", no_rate)])
