"""Timers and limits of the matchmaker, in one frozen place (config.py fills them from env)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StreamSettings:
    """Provider streams: registration, liveness, challenges and per-job flow control."""

    register_timeout_s: float = 10.0
    challenge_timeout_s: float = 20.0
    rechallenge_interval_s: float = 300.0
    heartbeat_interval_s: float = 10.0
    liveness_timeout_s: float = 35.0  # no frame at all for this long: the stream is dead
    ping_interval_s: float = 15.0
    max_chunk_bytes: int = 256 * 1024
    window_chunks: int = 256
    outbound_queue: int = 4096  # frames waiting to be written to one provider

    @property
    def attestation_max_age_s(self) -> float:
        """A machine whose last good challenge answer is older than this is not routable."""
        return self.rechallenge_interval_s + self.challenge_timeout_s + 30.0


@dataclass(frozen=True, slots=True)
class JobSettings:
    """Dispatch timers (per attempt) and job bounds."""

    accept_timeout_s: float = 5.0  # JobRequest sent → JobAccepted (proves the loop is alive)
    first_chunk_timeout_s: float = 120.0
    idle_timeout_s: float = 90.0
    resume_grace_s: float = 30.0
    max_attempts: int = 5
    max_input_bytes: int = 3 * 1024 * 1024  # under the 4 MiB gRPC message limit with room
    max_spec_json_bytes: int = 256 * 1024  # tools / output schema
    tombstones: int = 4096


@dataclass(frozen=True, slots=True)
class PoolSettings:
    """Pick, leases, scoring and failure accounting."""

    max_providers: int = 50_000
    lease_ttl_s: float = 15.0
    sample_size: int = 16  # candidates scored per pick (power of d choices); all when fewer
    max_candidates: int = 5
    # failure ledger: `threshold` failures, each within `window_s` of the previous, start a
    # cooldown of base * 2^(strikes-1), capped; a clean `strike_reset_s` forgets the strikes.
    failure_window_s: float = 600.0
    failure_threshold: int = 3
    cooldown_base_s: float = 60.0
    cooldown_cap_s: float = 600.0
    strike_reset_s: float = 900.0
    # scoring priors until a provider × model has measurements of its own
    prior_ttft_ms: float = 800.0
    prior_tokens_per_s: float = 20.0
    expected_tokens: float = 200.0
    ewma_alpha: float = 0.3
