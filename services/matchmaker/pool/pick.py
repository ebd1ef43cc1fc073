"""Pick: sample open candidates from the most selective index, score them, explain refusals."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from ..errors import NoProviders, NoProvidersForModel, PickRefused, ProvidersBusy
from .entry import ProviderEntry
from .filters import PickFilter, predicate, static_checks
from .index import PoolIndex


class Picker:
    """Chooses up to `k` machines for a filter; `ready` holds the time-dependent checks."""

    def __init__(
        self,
        index: PoolIndex,
        *,
        cost: Callable[[ProviderEntry, str], float],
        ready: Callable[[ProviderEntry, float], str | None],
        clock: Callable[[], float],
        rng: random.Random,
        sample_size: int,
    ) -> None:
        self._index = index
        self._cost = cost
        self._ready = ready  # None when routable now, else the refusal code
        self._clock = clock
        self._rng = rng
        self._sample = sample_size

    def pick(self, f: PickFilter, k: int) -> list[ProviderEntry]:
        passes = predicate(f)
        scored: list[tuple[float, ProviderEntry]] = []
        source = self._source(f)
        n, now, ready, cost, model = len(source), self._clock(), self._ready, self._cost, f.model
        start = self._rng.randrange(n) if n else 0
        for i in range(n):  # a random rotation: sampling without building a permutation
            entry = source[(start + i) % n]
            if entry.in_use >= entry.slots or entry.draining or not passes(entry):
                continue
            if ready(entry, now) is None:
                scored.append((cost(entry, model), entry))
                if len(scored) >= self._sample:
                    break
        if not scored:
            raise self.refusal(f)
        scored.sort(key=_first)
        return [entry for _, entry in scored[:k]]

    def _source(self, f: PickFilter) -> Sequence[ProviderEntry]:
        allowed = f.allow_set()
        if allowed is not None and len(allowed) <= 64:
            # A small allow-set beats any model index: look its machines up directly.
            by_did = self._index.by_did
            return [e for did in allowed for e in by_did.get(did, {}).values()]
        if f.country:
            return self._index.open_by_country.get((f.model, f.country), ())  # type: ignore[return-value]
        return self._index.open_by_model.get(f.model, ())  # type: ignore[return-value]

    def refusal(self, f: PickFilter) -> PickRefused:
        """Why nothing qualifies: the first check that leaves no machine standing."""
        if not self._index.by_key:
            return NoProviders("no providers are connected", code="no_providers_connected")
        if f.friends is not None and not f.friends:
            return NoProviders(
                "the requester has no friends to route to", code="no_friends_available"
            )
        remaining: Sequence[ProviderEntry] = list(self._index.by_model.get(f.model, ()))
        for code, check in static_checks(f):
            remaining = [e for e in remaining if check(e)]
            if not remaining:
                return _refused(code, f)
        now = self._clock()
        codes = [self._ready(e, now) for e in remaining]
        ready = [e for e, code in zip(remaining, codes, strict=True) if code is None]
        if not ready:
            code = _most_hopeful(c for c in codes if c is not None)
            return NoProviders(_MESSAGES.get(code, code), code=code)
        return ProvidersBusy(
            "every matching provider is busy; retry shortly", code="providers_busy"
        )


def _first(pair: tuple[float, ProviderEntry]) -> float:
    return pair[0]


def _refused(code: str, f: PickFilter) -> PickRefused:
    if code == "no_providers_for_model":
        return NoProvidersForModel(f"no connected provider serves model {f.model[:100]!r}")
    return NoProviders(_MESSAGES.get(code, code), code=code)


_NO_FRIENDS = "no_friends_available"
# Time-dependent refusals, most hopeful first: a draining machine will not come back soon.
_READY_ORDER = ("providers_cooling_down", "no_attested_providers", "providers_draining")


def _most_hopeful(codes: object) -> str:
    seen = set(codes)  # type: ignore[call-overload]
    return next((c for c in _READY_ORDER if c in seen), "providers_draining")


_MESSAGES = {
    "no_accepted_providers": "none of the job's accepted providers serves this model",
    "no_friends_for_model": "no friend's machine serves this model",
    "no_providers_left": "every provider for this model was excluded",
    "no_providers_for_country": "no provider in the requested country serves this model",
    "no_providers_for_trust_level": "no provider meets the trust floor",
    "no_providers_for_tier": "no provider meets the confidentiality tier",
    "no_providers_for_version": "no provider meets the minimum version",
    "no_providers_for_tool_calls": "no provider serves tool calls for this model",
    "no_providers_for_context_length": "no provider has a long enough context for this model",
    "no_pro_bono_providers": "no provider serves this requester pro bono for this model",
    "providers_cooling_down": "every matching provider is cooling down after failures",
    "no_attested_providers": "no matching provider has a fresh attestation",
    "providers_draining": "every matching provider is shutting down",
}
