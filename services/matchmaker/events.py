"""Business events: each bumps a low-cardinality metric and writes one structured log line.

Never raises, never logs prompt or completion bytes (the matchmaker never has them anyway).
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

log = logging.getLogger("cocore.matchmaker")
stage_log = logging.getLogger("cocore.matchmaker.stages")  # DEBUG: per-job timings

_LATENCY_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class MatchmakerEvents:
    """The matchmaker's metrics live in `registry` (the server's, so /metrics serves them)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = registry if registry is not None else CollectorRegistry()
        self.registry = r
        self.pool_size = Gauge("cocore_matchmaker_pool_size", "Machines in the pool.", registry=r)
        self.refused = Counter(
            "cocore_matchmaker_registrations_refused", "Refused streams.", ["code"], registry=r
        )
        self.picks_refused = Counter(
            "cocore_matchmaker_picks_refused", "Picks with no provider.", ["code"], registry=r
        )
        self.failures = Counter(
            "cocore_matchmaker_job_failures", "Failed attempts by code.", ["code"], registry=r
        )
        self.completed = Counter("cocore_matchmaker_jobs_completed", "Jobs done.", registry=r)
        self.failovers = Counter("cocore_matchmaker_failovers", "Failovers.", ["code"], registry=r)
        self.cooldowns = Counter(
            "cocore_matchmaker_cooldowns", "Cooldowns started.", ["reason"], registry=r
        )
        self.forwarded = Counter("cocore_matchmaker_forwarded", "Attempts forwarded.", registry=r)
        self.picked_dispatches = Counter(
            "cocore_matchmaker_picked_dispatches", "Dispatches that picked first, by whether "
            "the best candidate's input came presealed.", ["presealed"], registry=r,
        )  # fmt: skip
        self.ttft = Histogram(
            "cocore_matchmaker_ttft_seconds", "Dispatch to first chunk.",
            buckets=_LATENCY_BUCKETS_S, registry=r,
        )  # fmt: skip
        self.duration = Histogram(
            "cocore_matchmaker_dispatch_seconds", "Dispatch to completion.",
            buckets=_LATENCY_BUCKETS_S, registry=r,
        )  # fmt: skip

    def provider_registered(self, pool_size: int) -> None:
        self.pool_size.set(pool_size)
        log.info("provider_registered pool=%d", pool_size)

    def provider_disconnected(self, pool_size: int) -> None:
        self.pool_size.set(pool_size)
        log.info("provider_disconnected pool=%d", pool_size)

    def registration_refused(self, code: str) -> None:
        self.refused.labels(code).inc()
        log.info("registration_refused code=%s", code)

    def pick_refused(self, code: str) -> None:
        self.picks_refused.labels(code).inc()
        log.info("pick_refused code=%s", code)

    def first_chunk(self, ttft_s: float) -> None:
        self.ttft.observe(ttft_s)
        stage("matchmaker job sent → first chunk", ttft_s)

    def pick_served(self, seconds: float) -> None:
        stage("matchmaker pick (handler)", seconds)

    def picked_dispatch(self, presealed: bool) -> None:
        self.picked_dispatches.labels("used" if presealed else "unsealed").inc()

    def dispatch_streaming(self, seconds: float) -> None:
        stage("matchmaker dispatch → first chunk", seconds)

    def job_completed(self, duration_s: float, tokens_out: int) -> None:
        self.completed.inc()
        self.duration.observe(duration_s)
        log.info("job_completed ms=%d tokens_out=%d", duration_s * 1000, tokens_out)

    def job_failed(self, code: str, provider_fault: bool) -> None:
        self.failures.labels(code).inc()
        log.info("job_failed code=%s provider_fault=%s", code, provider_fault)

    def failover(self, code: str) -> None:
        self.failovers.labels(code).inc()
        log.info("failover code=%s", code)

    def cooldown_started(self, reason: str, seconds: float) -> None:
        self.cooldowns.labels(reason).inc()
        log.info("cooldown_started reason=%s s=%d", reason, seconds)

    def attempt_forwarded(self) -> None:
        self.forwarded.inc()


def stage(name: str, seconds: float) -> None:
    if stage_log.isEnabledFor(logging.DEBUG):
        stage_log.debug("%s ms=%.3f", name, seconds * 1e3,
                        extra={"stage": name, "seconds": seconds})  # fmt: skip
