"""Every formula as a table: one row per case, including the reference's own examples."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.exchange.formulas import (
    FeeRule,
    admission,
    fee,
    patronage_shares,
    price_matches_rate,
    refresh_due,
    refund_split,
    settlement_fee,
)


@pytest.mark.parametrize(
    ("amount", "bps", "min_minor", "expected"),
    [
        (99, 500, 0, 4),  # the reference's example: 95 to the provider, 4 to the treasury
        (200_000, 500, 0, 10_000),  # the reference's 3-way transfer: 190k / 10k
        (100, 500, 0, 5),
        (19, 500, 0, 0),  # floored: rounding favours the provider
        (20, 500, 0, 1),
        (3, 500, 5, 3),  # the floor is clamped to the price (reference: fee 3, payout 0)
        (1_000, 500, 5, 50),
        (10, 500, 5, 5),
        (0, 500, 5, 0),
        (1_000, 0, 0, 0),  # bps 0: everything to the provider
        (1_000, 10_000, 0, 1_000),
        (9_007_199_254_740_991, 500, 0, 450_359_962_737_049),
    ],
)
def test_fee(amount: int, bps: int, min_minor: int, expected: int) -> None:
    assert fee(amount, bps, min_minor) == expected


RULE = FeeRule(bps=500, min_minor=2, self_loop_fee_waived=True, self_loop_min_minor=7)


@pytest.mark.parametrize(
    ("amount", "rule", "self_loop", "pro_bono", "expected"),
    [
        (99, RULE, False, False, 4),
        (10, RULE, False, False, 2),  # the fee floor
        (99, RULE, True, False, 0),  # self-loop waived
        (99, FeeRule(500, 2, False, 7), True, False, 7),  # not waived: the flat selfLoop floor
        (5, FeeRule(500, 2, False, 7), True, False, 5),  # … capped at the price
        (99, FeeRule(500, 2, False), True, False, 0),  # no selfLoop.minMinor: nothing
        (0, RULE, False, True, 0),  # pro bono: all zero despite the floor
        (0, RULE, False, False, 0),
    ],
)
def test_settlement_fee(
    amount: int, rule: FeeRule, self_loop: bool, pro_bono: bool, expected: int
) -> None:
    assert settlement_fee(amount, rule, self_loop=self_loop, pro_bono=pro_bono) == expected


@pytest.mark.parametrize(
    ("amount", "tokens_in", "tokens_out", "rate_in", "rate_out", "ok"),
    [
        (100, 40, 60, 1_000_000, 1_000_000, True),  # 1 per token each way
        (101, 40, 60, 1_000_000, 1_000_000, True),  # one minor unit over
        (99, 40, 60, 1_000_000, 1_000_000, True),  # one under
        (102, 40, 60, 1_000_000, 1_000_000, False),
        (98, 40, 60, 1_000_000, 1_000_000, False),
        (0, 12, 8, 10, 10, True),  # 200 tokens at 10 per MTok = 0.0002
        (1, 12, 8, 10, 10, True),
        (2, 12, 8, 10, 10, False),
        (3, 1_000, 1_000, 1_500, 1_000, True),  # exactly 2.5: 2 and 3 are both within one unit
        (2, 1_000, 1_000, 1_500, 1_000, True),
        (4, 1_000, 1_000, 1_500, 1_000, False),
        (50_000, 0, 50_000, 0, 1_000_000, True),
    ],
)
def test_price_against_the_token_rate(  # noqa: PLR0917 - one parameter per table column
    amount: int, tokens_in: int, tokens_out: int, rate_in: int, rate_out: int, ok: bool
) -> None:
    assert price_matches_rate(amount, tokens_in, tokens_out, rate_in, rate_out) is ok


@pytest.mark.parametrize(
    ("available", "ceiling", "floor", "ok", "required", "short_by"),
    [
        (1_000_000, 100_000, 100_000, True, 200_000, 0),
        (200_000, 100_000, 100_000, True, 200_000, 0),  # exactly at the floor afterwards
        (199_999, 100_000, 100_000, False, 200_000, 1),
        (0, 100_000, 100_000, False, 200_000, 200_000),
        (100_000, 0, 100_000, True, 100_000, 0),
    ],
)
def test_admission(  # noqa: PLR0917 - one parameter per table column
    available: int, ceiling: int, floor: int, ok: bool, required: int, short_by: int
) -> None:
    check = admission(available, ceiling, floor)
    assert (check.ok, check.required, check.short_by) == (ok, required, short_by)


T = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("elapsed", "cadence", "due"),
    [
        (timedelta(minutes=10_080), 10_080, True),
        (timedelta(minutes=10_079), 10_080, False),
        (timedelta(days=70), 10_080, True),  # one tick per touch, however long it has been
        (timedelta(days=1), 0, False),
    ],
)
def test_refresh_due(elapsed: timedelta, cadence: int, due: bool) -> None:
    assert refresh_due(T, T + elapsed, cadence) is due


@pytest.mark.parametrize(
    ("scores", "treasury", "bps", "expected"),
    [
        # 80% of 10,000 split 3:1
        ({"a": 300, "b": 100}, 10_000, 8_000, {"a": 6_000, "b": 2_000}),
        # floor per recipient, dust stays: 8000·1/3 = 2666.67 each
        ({"a": 1, "b": 1, "c": 1}, 10_000, 8_000, {"a": 2_666, "b": 2_666, "c": 2_666}),
        ({"a": 1, "b": 999_999}, 100, 8_000, {"b": 79}),  # a's share floors to 0: no record
        ({"a": 5}, 0, 8_000, {}),
        ({}, 10_000, 8_000, {}),
        ({"a": 0}, 10_000, 8_000, {}),
    ],
)
def test_patronage_shares(
    scores: dict[str, int], treasury: int, bps: int, expected: dict[str, int]
) -> None:
    assert patronage_shares(scores, treasury, bps) == expected


@given(
    scores=st.dictionaries(st.text(min_size=1, max_size=3), st.integers(0, 10**9), max_size=20),
    treasury=st.integers(0, 10**12),
    bps=st.integers(0, 10_000),
)
def test_patronage_never_pays_out_more_than_the_fraction(
    scores: dict[str, int], treasury: int, bps: int
) -> None:
    shares = patronage_shares(scores, treasury, bps)
    assert sum(shares.values()) <= treasury * bps // 10_000
    assert all(v >= 1 for v in shares.values())
    dust = treasury * bps // 10_000 - sum(shares.values())
    scored = [s for s in scores.values() if s > 0]
    if scored:  # each scored DID loses less than one unit to the floor
        assert dust < len(scored)


@pytest.mark.parametrize(
    ("refund", "before", "amount", "charged_fee", "expected"),
    [
        (99, 0, 99, 4, (4, 95)),  # full refund: exactly the fee and the payout
        (50, 0, 100, 5, (2, 48)),
        (50, 50, 100, 5, (3, 47)),  # the second half returns the rest: 2 + 3 = 5
        (1, 0, 3, 1, (0, 1)),
        (1, 1, 3, 1, (0, 1)),
        (1, 2, 3, 1, (1, 0)),  # three partial refunds telescope to fee 1, payout 2
        (10, 0, 10, 0, (0, 10)),
    ],
)
def test_refund_split(
    refund: int, before: int, amount: int, charged_fee: int, expected: tuple[int, int]
) -> None:
    assert refund_split(refund, before, amount, charged_fee) == expected


@given(
    amount=st.integers(1, 10**9),
    bps=st.integers(0, 10_000),
    parts=st.lists(st.integers(1, 10**9), min_size=1, max_size=6),
)
def test_refunds_in_any_steps_return_exactly_fee_and_payout(
    amount: int, bps: int, parts: list[int]
) -> None:
    charged_fee = fee(amount, bps, 0)
    before, fee_back, payout_back = 0, 0, 0
    for part in parts:
        step = min(part, amount - before)
        if step == 0:
            break
        f, p = refund_split(step, before, amount, charged_fee)
        before, fee_back, payout_back = before + step, fee_back + f, payout_back + p
    remaining = amount - before
    if remaining:
        f, p = refund_split(remaining, before, amount, charged_fee)
        fee_back, payout_back = fee_back + f, payout_back + p
    assert (fee_back, payout_back) == (charged_fee, amount - charged_fee)
