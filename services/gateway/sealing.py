"""Sealing inputs to providers, and sealing ahead: the machines a model's jobs went to lately.

A Dispatch that picks first runs the job at once when the pick's best candidate is a machine
the input came presealed to (one round trip to the matchmaker instead of Pick, then
Dispatch). The gateway remembers, per model, the last few machines the matchmaker chose and
their keys; a machine whose key changed, or that the pick did not choose first, costs only
the seal (the matchmaker answers with the candidates, as Pick would).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cocore.crypto import KeyFormatError, ReplyOpener, SealScheme, seal_request

from .errors import Unavailable
from .matchmaker_client import Attempt, Candidate, Presealed

AHEAD = 2  # machines sealed for ahead, per model
MODELS = 1024  # models remembered


Openers = dict[tuple[str, str], ReplyOpener]  # by machine (did, machine_id)


def _sealed_to(
    candidates: list[Candidate], plaintext: bytes, openers: Openers
) -> list[tuple[Candidate, Attempt]]:
    """The input sealed to each candidate with a usable key (a malformed key skips that
    machine), its reply opener kept by machine."""
    out = []
    for c in candidates:
        try:
            blob, pub, opener = seal_request(
                SealScheme(c.enc_scheme), c.encryption_pub_key, plaintext
            )
        except (KeyFormatError, ValueError):
            continue
        openers[(c.did, c.machine_id)] = opener
        out.append((c, Attempt(c.lease, blob, pub, c.enc_scheme)))
    return out


@dataclass
class Sealing:
    ahead: int = AHEAD
    _recent: dict[str, list[Candidate]] = field(default_factory=dict)

    def seal(
        self, model: str, candidates: list[Candidate], plaintext: bytes, openers: Openers
    ) -> list[Attempt]:
        """One attempt per candidate the pick returned; the best is sealed ahead for next
        time."""
        self._picked(model, candidates)
        attempts = [attempt for _, attempt in _sealed_to(candidates, plaintext, openers)]
        if not attempts:
            raise Unavailable("no candidate provider had a usable encryption key",
                              code="no_providers_available")  # fmt: skip
        return attempts

    def _picked(self, model: str, candidates: list[Candidate]) -> None:
        if not candidates or self.ahead <= 0:
            return
        best = candidates[0]
        machines = [c for c in self._recent.pop(model, []) if (c.did, c.machine_id) != (
            best.did, best.machine_id)]  # fmt: skip
        self._recent[model] = [best, *machines][: self.ahead]
        while len(self._recent) > MODELS:
            del self._recent[next(iter(self._recent))]

    def preseal(self, model: str, plaintext: bytes, openers: Openers) -> list[Presealed]:
        """The input sealed to the machines this model's jobs went to lately."""
        recent = self._recent.get(model, [])
        return [Presealed(c.did, c.machine_id, c.encryption_pub_key, attempt)
                for c, attempt in _sealed_to(recent, plaintext, openers)]  # fmt: skip
