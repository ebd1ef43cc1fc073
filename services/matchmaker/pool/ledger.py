"""Failure accounting per machine: strikes, escalating cooldowns; survives reconnects."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from ..settings import PoolSettings
from .entry import ProviderKey


@dataclass(slots=True)
class _Record:
    failures: int = 0
    last_failure_at: float = 0.0
    strikes: int = 0
    cooldown_until: float = 0.0
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Cooldown:
    until: float
    reason: str
    strikes: int


class FailureLedger:
    """`threshold` failures in a row (each within `window` of the last) start a cooldown."""

    def __init__(self, settings: PoolSettings, max_machines: int = 100_000) -> None:
        self._s = settings
        self._max = max_machines
        self._records: OrderedDict[ProviderKey, _Record] = OrderedDict()

    def record_failure(self, key: ProviderKey, reason: str, now: float) -> Cooldown | None:
        """Count a provider-side failure; returns the cooldown when this one started it."""
        record = self._records.get(key) or _Record()
        self._records[key] = record
        self._records.move_to_end(key)
        if len(self._records) > self._max:
            self._records.popitem(last=False)
        if now - record.last_failure_at > self._s.failure_window_s:
            record.failures = 0
        if record.strikes and now - record.last_failure_at > self._s.strike_reset_s:
            record.strikes = 0
        record.failures += 1
        record.last_failure_at = now
        if record.failures < self._s.failure_threshold:
            return None
        record.failures = 0
        record.strikes += 1
        length = self._s.cooldown_base_s * 2 ** (record.strikes - 1)
        record.cooldown_until = now + min(length, self._s.cooldown_cap_s)
        record.reason = reason
        return Cooldown(record.cooldown_until, reason, record.strikes)

    def record_success(self, key: ProviderKey, now: float) -> None:
        """A clean completion long after the last failure forgets the strikes (not a cooldown)."""
        record = self._records.get(key)
        if record is not None and now - record.last_failure_at > self._s.strike_reset_s:
            record.strikes = 0
            record.failures = 0

    def cooldown(self, key: ProviderKey, now: float) -> Cooldown | None:
        record = self._records.get(key)
        if record is None or record.cooldown_until <= now:
            return None
        return Cooldown(record.cooldown_until, record.reason, record.strikes)

    def cooling(self, key: ProviderKey, now: float) -> bool:
        record = self._records.get(key)
        return record is not None and record.cooldown_until > now
