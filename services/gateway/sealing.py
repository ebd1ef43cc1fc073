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

from .matchmaker_client import Attempt, Candidate, Presealed

AHEAD = 2  # machines sealed for ahead, per model
MODELS = 1024  # models remembered


def seal_for(scheme: str, key: str, plaintext: bytes) -> tuple[bytes, str, ReplyOpener] | None:
    """(sealed input, requester public key, reply opener); None for an unusable key."""
    try:
        return seal_request(SealScheme(scheme), key, plaintext)
    except (KeyFormatError, ValueError):
        return None


@dataclass
class Sealing:
    ahead: int = AHEAD
    _recent: dict[str, list[Candidate]] = field(default_factory=dict)

    def picked(self, model: str, candidates: list[Candidate]) -> None:
        """The matchmaker chose these (best first): seal ahead for the best next time."""
        if not candidates or self.ahead <= 0:
            return
        best = candidates[0]
        machines = [c for c in self._recent.pop(model, []) if (c.did, c.machine_id) != (
            best.did, best.machine_id)]  # fmt: skip
        self._recent[model] = [best, *machines][: self.ahead]
        while len(self._recent) > MODELS:
            del self._recent[next(iter(self._recent))]

    def preseal(
        self, model: str, plaintext: bytes, openers: dict[tuple[str, str], ReplyOpener]
    ) -> list[Presealed]:
        """The input sealed to the machines this model's jobs went to lately."""
        out = []
        for c in self._recent.get(model, ()):
            sealed = seal_for(c.enc_scheme, c.encryption_pub_key, plaintext)
            if sealed is None:
                continue
            blob, pub, openers[(c.did, c.machine_id)] = sealed
            out.append(Presealed(c.did, c.machine_id, c.encryption_pub_key,
                                 Attempt("", blob, pub, c.enc_scheme)))  # fmt: skip
        return out
