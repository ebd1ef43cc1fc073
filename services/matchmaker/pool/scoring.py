"""Measured speed per provider × model (EWMA from real jobs), reliability, and the pick score."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from ..settings import PoolSettings
from .entry import ProviderEntry, ProviderKey


@dataclass(slots=True)
class ModelStats:
    ttft_ms: float = 0.0
    tokens_per_s: float = 0.0
    ttft_samples: int = 0
    speed_samples: int = 0


@dataclass(slots=True)
class MachineStats:
    reliability: float = 1.0  # EWMA of 1 (success) / 0 (provider-side failure)
    models: dict[str, ModelStats] = field(default_factory=dict)


class StatsBook:
    """Kept by (did, machine) so measurements survive reconnects; bounded, least recent out."""

    def __init__(self, settings: PoolSettings, max_machines: int = 100_000) -> None:
        self._alpha = settings.ewma_alpha
        self._max = max_machines
        self._by_key: OrderedDict[ProviderKey, MachineStats] = OrderedDict()

    def get(self, key: ProviderKey) -> MachineStats | None:
        return self._by_key.get(key)

    def machine(self, key: ProviderKey) -> MachineStats:
        """The machine's stats (created empty), for an entry to hold while it is in the pool."""
        return self._touch(key)

    def _touch(self, key: ProviderKey) -> MachineStats:
        found = self._by_key.get(key)
        if found is None:
            found = self._by_key[key] = MachineStats()
            if len(self._by_key) > self._max:
                self._by_key.popitem(last=False)
        else:
            self._by_key.move_to_end(key)
        return found

    def _model(self, key: ProviderKey, model: str) -> ModelStats:
        return self._touch(key).models.setdefault(model, ModelStats())

    def record_ttft(self, key: ProviderKey, model: str, ttft_ms: float) -> None:
        stats = self._model(key, model)
        stats.ttft_ms = self._ewma(stats.ttft_ms, ttft_ms, stats.ttft_samples)
        stats.ttft_samples += 1

    def record_speed(self, key: ProviderKey, model: str, tokens: int, seconds: float) -> None:
        if tokens < 2 or seconds <= 0:
            return  # one token says nothing about decode speed
        stats = self._model(key, model)
        stats.tokens_per_s = self._ewma(stats.tokens_per_s, tokens / seconds, stats.speed_samples)
        stats.speed_samples += 1

    def record_outcome(self, key: ProviderKey, ok: bool) -> None:
        machine = self._touch(key)
        machine.reliability += self._alpha * ((1.0 if ok else 0.0) - machine.reliability)

    def _ewma(self, current: float, sample: float, samples: int) -> float:
        return sample if samples == 0 else current + self._alpha * (sample - current)


class Scorer:
    """Expected time to serve a typical job, inflated by load and unreliability (lower wins)."""

    def __init__(self, settings: PoolSettings) -> None:
        self._prior_ttft_ms = settings.prior_ttft_ms
        self._prior_tps = settings.prior_tokens_per_s
        self._tokens_ms = 1000.0 * settings.expected_tokens

    def cost(self, entry: ProviderEntry, model: str) -> float:
        ttft_ms, tps, reliability = self._prior_ttft_ms, self._prior_tps, 1.0
        machine = entry.stats
        if machine is not None:
            reliability = machine.reliability
            measured = machine.models.get(model)
            if measured is not None:
                if measured.ttft_samples:
                    ttft_ms = measured.ttft_ms
                if measured.speed_samples:
                    tps = measured.tokens_per_s
        expected_ms = ttft_ms + self._tokens_ms / (tps if tps > 0.1 else 0.1)
        slots = entry.slots or 1
        busy = entry.in_use / slots
        # A batching engine slows every job as it fills; queued work adds straight to TTFT.
        load = (busy if busy > entry.load else entry.load) + entry.queued / slots
        # Squared: a machine failing half its jobs costs the requester far more than 2x.
        floor = reliability if reliability > 0.05 else 0.05
        return expected_ms * (1.0 + load) / (floor * floor)
