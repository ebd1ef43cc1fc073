"""Every number the exchange derives, as small pure functions over integers (no floats).

Each is reproducible offline from published records: a verifier holding the settlement, its
pinned policy and the receipt gets the same fee; one holding the tokenPatronage records gets
the same shares.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

BPS = 10_000
MICRO = 1_000_000  # token rates are per million tokens


def fee(amount: int, bps: int, min_minor: int) -> int:
    """`min(max(floor(amount·bps/10000), minMinor), amount)`: floored, never above the price."""
    assert amount >= 0 and 0 <= bps <= BPS and min_minor >= 0
    result = min(max(amount * bps // BPS, min_minor), amount)
    assert 0 <= result <= amount
    return result


@dataclass(frozen=True, slots=True)
class FeeRule:
    bps: int
    min_minor: int
    self_loop_fee_waived: bool
    self_loop_min_minor: int = 0


def settlement_fee(amount: int, rule: FeeRule, *, self_loop: bool, pro_bono: bool) -> int:
    """The fee of one settlement: zero for pro bono, the self-loop rule, else `fee`.

    A self-loop that is not waived pays the flat facilitation floor `selfLoop.minMinor`
    (capped at the price), as the policy lexicon describes; the settlement record and the
    ledger both take their fee from here, so they cannot disagree.
    """
    if pro_bono or amount == 0:
        return 0
    if self_loop:
        return 0 if rule.self_loop_fee_waived else min(rule.self_loop_min_minor, amount)
    return fee(amount, rule.bps, rule.min_minor)


def rate_price_micro(tokens_in: int, tokens_out: int, in_per_mtok: int, out_per_mtok: int) -> int:
    """The exact price in millionths of a minor unit: `in·inRate + out·outRate`."""
    assert min(tokens_in, tokens_out, in_per_mtok, out_per_mtok) >= 0
    return tokens_in * in_per_mtok + tokens_out * out_per_mtok


def price_matches_rate(
    amount: int, tokens_in: int, tokens_out: int, in_per_mtok: int, out_per_mtok: int
) -> bool:
    """`|amount − (in·inRate + out·outRate)/1e6| ≤ 1`: one minor unit of tolerance either way."""
    exact_micro = rate_price_micro(tokens_in, tokens_out, in_per_mtok, out_per_mtok)
    return abs(amount * MICRO - exact_micro) <= MICRO


@dataclass(frozen=True, slots=True)
class Admission:
    ok: bool
    available: int
    required: int
    short_by: int


def admission(available: int, ceiling: int, floor: int) -> Admission:
    """A hold for `ceiling` is placed iff `available − ceiling ≥ floor`."""
    assert ceiling >= 0 and floor >= 0
    required = ceiling + floor
    short_by = max(0, required - available)
    return Admission(short_by == 0, available, required, short_by)


def refresh_due(last_refresh_at: datetime, now: datetime, cadence_minutes: int) -> bool:
    """One refresh per touch once a full cadence has passed since the last one (no catch-up)."""
    return cadence_minutes > 0 and now - last_refresh_at >= timedelta(minutes=cadence_minutes)


def patronage_shares(
    scores: Mapping[str, int], treasury_before: int, fraction_bps: int
) -> dict[str, int]:
    """Each DID's credit, `floor(treasuryBefore·fractionBps·score / (10000·totalScore))`.

    That is the tokenPatronage lexicon's formula with a single floor; the shares never sum
    to more than `floor(treasuryBefore·fractionBps/10000)` and the dust stays in the treasury.
    DIDs whose share floors to 0 get nothing (a tokenPatronage credits at least 1).
    """
    assert treasury_before >= 0 and 0 <= fraction_bps <= BPS
    total = sum(scores.values())
    if total <= 0:
        return {}
    shares = {}
    for did in sorted(scores):
        assert scores[did] >= 0
        credit = treasury_before * fraction_bps * scores[did] // (BPS * total)
        if credit > 0:
            shares[did] = credit
    assert sum(shares.values()) <= treasury_before * fraction_bps // BPS
    return shares


def refund_split(
    refund: int, refunded_before: int, amount: int, charged_fee: int
) -> tuple[int, int]:
    """How a refund unwinds a charge of `amount` that paid `charged_fee`: (fee back, payout back).

    The treasury returns the fee in proportion to the cumulative refund, floored; the provider
    returns the rest. Successive partial refunds telescope, so refunding the whole charge in
    any number of steps returns exactly the fee and exactly the payout.
    """
    assert refund > 0 and refunded_before >= 0 and refunded_before + refund <= amount
    assert 0 <= charged_fee <= amount
    after = refunded_before + refund
    fee_back = after * charged_fee // amount - refunded_before * charged_fee // amount
    payout_back = refund - fee_back
    assert 0 <= fee_back <= refund
    return fee_back, payout_back
