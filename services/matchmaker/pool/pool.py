"""The live pool: machines in, picks and slot leases out, measurements and failures recorded."""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..errors import PoolFull
from ..settings import PoolSettings
from .entry import ProviderEntry, ProviderKey
from .filters import PickFilter
from .index import PoolIndex
from .leases import LeaseClaims, LeaseSigner, Reservations
from .ledger import Cooldown, FailureLedger
from .pick import Picker
from .scoring import Scorer, StatsBook

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Pick:
    entry: ProviderEntry
    lease: str
    claims: LeaseClaims
    reserved: bool  # this candidate's slot is held until the lease expires or is used


class Pool:
    """All machines this replica knows (its own streams and other replicas' directory rows)."""

    def __init__(
        self,
        settings: PoolSettings,
        *,
        replica_id: str,
        signer: LeaseSigner,
        attestation_max_age_s: float,
        clock: Clock,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.replica_id = replica_id
        self.index = PoolIndex()
        self.ledger = FailureLedger(settings)
        self.stats = StatsBook(settings)
        self.signer = signer
        self._clock = clock
        self._max_age = attestation_max_age_s
        # Sampling and jitter only, never secrets: a seeded PRNG lets a test replay a pick.
        self._rng = rng or random.Random(secrets.randbits(64))  # noqa: S311
        self.reservations = Reservations(self.release)
        self._scorer = Scorer(settings)
        self._picker = Picker(
            self.index, cost=self._cost, ready=self._not_ready, clock=clock, rng=self._rng,
            sample_size=settings.sample_size,
        )  # fmt: skip

    # ------------------------------------------------------------ membership

    def __len__(self) -> int:
        return len(self.index)

    def get(self, key: ProviderKey) -> ProviderEntry | None:
        return self.index.by_key.get(key)

    def entries(self) -> Iterable[ProviderEntry]:
        return list(self.index.by_key.values())

    def add(self, entry: ProviderEntry) -> ProviderEntry | None:
        """Put `entry` in the pool, replacing (and returning) the machine's previous entry."""
        previous = self.index.by_key.get(entry.key)
        if previous is None and len(self.index) >= self.settings.max_providers:
            raise PoolFull(f"the pool holds its maximum of {self.settings.max_providers} machines")
        if previous is not None:
            self.remove(previous)
        if entry.stats is None:
            entry.stats = self.stats.machine(entry.key)
        self.index.add(entry)
        return previous

    def remove(self, entry: ProviderEntry) -> None:
        """Take `entry` out, if it is still the machine's current entry."""
        if self.index.by_key.get(entry.key) is entry:
            self.reservations.drop_for(entry)
            self.index.remove(entry)

    def reindex(self, entry: ProviderEntry, change: Callable[[ProviderEntry], None]) -> None:
        """Apply `change` to fields the indexes are keyed on (models, country)."""
        current = self.index.by_key.get(entry.key) is entry
        if current:
            self.index.remove(entry)
        change(entry)
        if current:
            self.index.add(entry)

    def refresh(self, entry: ProviderEntry) -> None:
        self.index.refresh(entry)

    # ------------------------------------------------------------ pick and slots

    def pick(self, f: PickFilter, k: int = 1) -> list[Pick]:
        """Best-first candidates; the first one's slot is held under its lease."""
        now = self._clock()
        self.reservations.sweep(now)
        k = max(1, min(k, self.settings.max_candidates))
        picks = []
        for i, entry in enumerate(self._picker.pick(f, k)):
            claims = LeaseClaims(
                secrets.token_hex(8), entry.did, entry.machine_id, f.model,
                self.replica_id, now + self.settings.lease_ttl_s,
            )  # fmt: skip
            reserved = i == 0 and self.acquire(entry)
            if reserved:
                self.reservations.hold(claims.lease_id, entry, claims.expires_at)
            picks.append(Pick(entry, self.signer.mint(claims), claims, reserved))
        return picks

    def acquire(self, entry: ProviderEntry) -> bool:
        """Take one slot of `entry` (local or, as an estimate, remote); False when full."""
        if entry.free <= 0 or entry.draining:
            return False
        entry.in_use += 1
        if entry.free == 0:
            self.index.refresh(entry)
        return True

    def release(self, entry: ProviderEntry) -> None:
        if entry.in_use <= 0:
            return
        was_full = entry.free == 0
        entry.in_use -= 1
        if was_full:
            self.index.refresh(entry)

    def release_lease(self, claims: LeaseClaims) -> bool:
        """Give back the slot a lease holds on this replica (idempotent)."""
        if claims.replica_id != self.replica_id:
            return False
        return self.reservations.drop(claims.lease_id)

    def claim(self, claims: LeaseClaims, entry: ProviderEntry) -> bool:
        """A dispatch takes its slot: the lease's held one, or any free one."""
        held = (
            self.reservations.take(claims.lease_id)
            if claims.replica_id == self.replica_id
            else None
        )
        if held is entry:
            return True
        if held is not None:  # the machine reconnected since the pick: its old entry is gone
            self.release(held)
        return self.acquire(entry)

    # ------------------------------------------------------------ outcomes

    def record_first_chunk(self, entry: ProviderEntry, model: str, ttft_s: float) -> None:
        self.stats.record_ttft(entry.key, model, ttft_s * 1000.0)

    def record_success(
        self, entry: ProviderEntry, model: str, tokens: int, decode_s: float
    ) -> None:
        self.stats.record_speed(entry.key, model, tokens, decode_s)
        self.stats.record_outcome(entry.key, True)
        self.ledger.record_success(entry.key, self._clock())

    def record_failure(self, entry: ProviderEntry, reason: str) -> Cooldown | None:
        self.stats.record_outcome(entry.key, False)
        return self.ledger.record_failure(entry.key, reason, self._clock())

    # ------------------------------------------------------------ internals

    def _cost(self, entry: ProviderEntry, model: str) -> float:
        # A little jitter spreads equal machines instead of herding onto one.
        return self._scorer.cost(entry, model) * (1.0 + 0.05 * self._rng.random())

    def _not_ready(self, entry: ProviderEntry, now: float) -> str | None:
        if entry.draining:
            return "providers_draining"
        if not entry.attestation_fresh(now, self._max_age):
            return "no_attested_providers"
        if self.ledger.cooling(entry.key, now):
            return "providers_cooling_down"
        return None
