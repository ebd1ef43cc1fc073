"""Pick: best-first candidates for a job (the Pick RPC, and a Dispatch that picks first)."""

from __future__ import annotations

import time

from cocore.proto.matchmaker.v1 import matchmaker_pb2 as pb

from ..api import candidate, pick_filter
from ..errors import PickRefused
from ..streams.hub import Hub


def pick(hub: Hub, request: pb.PickRequest) -> pb.PickResponse:
    """The candidates, the first holding a slot under its lease; PickRefused when none."""
    start = time.perf_counter()
    f = pick_filter(request)
    try:
        picks = hub.pool.pick(f, request.max_candidates or 1)
    except PickRefused as e:
        hub.events.pick_refused(e.code)
        raise
    response = pb.PickResponse(candidates=[candidate(p, f.requester_did) for p in picks])
    hub.events.pick_served(time.perf_counter() - start)
    return response


def presealed_attempts(picked: pb.PickResponse, presealed: list[pb.Presealed]) -> list[pb.Attempt]:
    """Attempts for the candidates whose input came sealed to their current key — none
    unless the best one did (a presealed input never displaces the pick's own order)."""
    by_machine = {(p.did, p.machine_id, p.encryption_pub_key): p for p in presealed}
    attempts: list[pb.Attempt] = []
    for c in picked.candidates:
        sealed = by_machine.get((c.did, c.machine_id, c.encryption_pub_key))
        if sealed is None or (sealed.enc_scheme and sealed.enc_scheme != c.enc_scheme):
            if not attempts:
                return []  # the best candidate needs its own seal: the caller seals for all
            continue
        attempts.append(pb.Attempt(lease=c.lease, sealed_input=sealed.sealed_input,
                                   requester_pub_key=sealed.requester_pub_key,
                                   enc_scheme=sealed.enc_scheme))  # fmt: skip
    return attempts
