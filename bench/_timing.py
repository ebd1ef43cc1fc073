"""A tiny timing harness: best-of-N rounds, reported per operation."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Measurement:
    name: str
    seconds_per_op: float

    @property
    def ops_per_second(self) -> float:
        return 1.0 / self.seconds_per_op

    def row(self) -> str:
        us = self.seconds_per_op * 1e6
        return f"| {self.name:<44} | {us:>10.1f} | {self.ops_per_second:>12,.0f} |"


def measure(
    name: str, op: Callable[[], object], *, min_time_s: float = 0.5, rounds: int = 5
) -> Measurement:
    """Best per-op time over `rounds`, each running `op` for at least `min_time_s`."""
    op()  # warm caches (lexicon registry, key objects)
    best = float("inf")
    for _ in range(rounds):
        n, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < min_time_s / rounds:
            op()
            n += 1
        best = min(best, elapsed / n)
    return Measurement(name, best)


def table(measurements: list[Measurement]) -> str:
    head = f"| {'operation':<44} | {'µs / op':>10} | {'ops / s':>12} |"
    rule = f"|{'-' * 46}|{'-' * 12}|{'-' * 14}|"
    return "\n".join([head, rule, *(m.row() for m in measurements)])
