"""Re-running a settlement's fee against the exchangePolicy it pins (the reference never did)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cocore.verify import Finding, Severity


def expected_fee(
    amount: int, policy: Mapping[str, Any], *, self_loop: bool, pro_bono: bool
) -> int | None:
    """The fee the policy sets for `amount`, or None when the policy cannot say."""
    if pro_bono:
        return 0
    if self_loop:
        return _self_loop_fee(amount, policy.get("selfLoop"))
    fee = policy.get("fee")
    if not isinstance(fee, Mapping):
        return None
    bps, floor = _int(fee.get("bps")), _int(fee.get("minMinor"))
    if bps is None or floor is None:
        return None
    return min(max(amount * bps // 10_000, floor), amount)


def _self_loop_fee(amount: int, rule: Any) -> int | None:
    if not isinstance(rule, Mapping):
        return None
    if rule.get("feeWaived") is True:
        return 0
    return min(_int(rule.get("minMinor")) or 0, amount)


def check_fee(
    settlement: Mapping[str, Any],
    policy: Mapping[str, Any],
    *,
    self_loop: bool,
    pro_bono: bool,
) -> Finding | None:
    """A `fee-mismatch` error when a settled record's fee is not the policy's."""
    if settlement.get("status") != "settled":
        return None  # refunds and disputes carry no fee of their own
    charged, fee = _money(settlement, "amountCharged"), _money(settlement, "exchangeFee")
    if charged is None or fee is None:
        return None  # the chain checks already report malformed amounts
    want = expected_fee(charged, policy, self_loop=self_loop, pro_bono=pro_bono)
    if want is None:
        return Finding(Severity.WARN, "fee-unchecked", "the pinned policy has no usable fee rule")
    if fee != want:
        return Finding(
            Severity.ERROR, "fee-mismatch", f"exchangeFee {fee} is not the policy's fee {want}"
        )
    return None


def _money(record: Mapping[str, Any], field: str) -> int | None:
    money = record.get(field)
    return _int(money.get("amount")) if isinstance(money, Mapping) else None


def _int(value: Any) -> int | None:
    return value if type(value) is int and value >= 0 else None
