"""The replica a Dispatch lands on: check it, route each attempt, fail over before streaming."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass

from cocore.proto.matchmaker.v1 import matchmaker_pb2 as pb

from ..errors import DispatchInvalid, LeaseInvalid
from ..pool import LeaseClaims, ProviderKey
from ..streams.hub import Hub
from .forward import Peers
from .local import error_event, run_local
from .pick import pick, presealed_attempts
from .validate import validate_dispatch, validate_pick_dispatch

# Where a machine's stream lives when this replica does not hold it (None: nowhere known).
OwnerLookup = Callable[[ProviderKey], Awaitable[str | None]]
Events = AsyncGenerator[pb.DispatchEvent, None]


@dataclass
class _Outcome:
    finished: bool = False  # the caller got a completion or a terminal error
    error: pb.Error | None = None  # failed before streaming: the next attempt may run


class Dispatcher:
    def __init__(self, hub: Hub, peers: Peers, owner_of: OwnerLookup) -> None:
        self._hub = hub
        self._peers = peers
        self._owner_of = owner_of

    async def dispatch(self, request: pb.DispatchRequest, *, forwarded: bool) -> Events:
        """Events for the caller; bad requests raise before anything streams."""
        if request.HasField("pick"):
            if forwarded:
                raise DispatchInvalid("a forwarded Dispatch carries its attempt")
            validate_pick_dispatch(request, self._hub.jobs)
            picked = pick(self._hub, request.pick)
            ready = presealed_attempts(picked, list(request.presealed))
            self._hub.events.picked_dispatch(bool(ready))
            if not ready:  # the caller seals for these and Dispatches them
                yield pb.DispatchEvent(unsealed=picked)
                return
            request = pb.DispatchRequest(spec=request.spec, attempts=ready)
        else:
            validate_dispatch(request, self._hub.jobs, single=forwarded)
        spec, attempts = request.spec, request.attempts
        claims = [self._claims(attempt, spec.model) for attempt in attempts]
        last = pb.Error(code="no_attempt", message="no attempt was made")
        for index, (attempt, claim) in enumerate(zip(attempts, claims, strict=True)):
            if index:
                self._hub.events.failover(last.code)
                failover = pb.Failover(attempt=index - 1, code=last.code, message=last.message)
                yield pb.DispatchEvent(failover=failover)
            outcome = _Outcome()
            relay = self._relay(index, self._attempt(spec, attempt, claim, forwarded), outcome)
            async with aclosing(relay) as events:
                async for event in events:
                    yield event
            if outcome.finished:
                return
            last = outcome.error or last
        message = last.message + (f" (all {len(attempts)} attempts failed)" if index else "")
        yield pb.DispatchEvent(error=pb.Error(code=last.code, message=message, retryable=True))

    async def _relay(self, index: int, source: Events, outcome: _Outcome) -> Events:
        streamed = False
        async with aclosing(source) as events:
            async for event in events:
                kind = event.WhichOneof("event")
                if kind == "error" and not streamed:
                    outcome.error = event.error
                    return
                if kind == "started":
                    event.started.attempt = index
                streamed = streamed or kind == "chunks"
                yield event
                if kind in ("completed", "error"):
                    outcome.finished = True
                    return
        if streamed:  # a stream must end with a completion or an error
            outcome.finished = True
            yield error_event("stream_ended", "the provider stream ended early")
        else:
            outcome.error = pb.Error(code="attempt_ended", message="the attempt ended early")

    def _claims(self, attempt: pb.Attempt, model: str) -> LeaseClaims:
        claims = self._hub.pool.signer.verify(attempt.lease, self._hub.wall_clock())
        if claims.model != model:
            raise LeaseInvalid(
                "the lease was picked for another model", code="lease_model_mismatch"
            )
        return claims

    async def _attempt(
        self, spec: pb.JobSpec, attempt: pb.Attempt, claims: LeaseClaims, forwarded: bool
    ) -> Events:
        key = (claims.did, claims.machine_id)
        address = None
        if key not in self._hub.connections and not forwarded:
            entry = self._hub.pool.get(key)
            remote = entry is not None and entry.remote
            address = entry.address if entry is not None and remote else await self._owner_of(key)
        if address is None:
            source = run_local(self._hub, spec, attempt, claims)
        else:
            self._hub.events.attempt_forwarded()
            self._hub.pool.reservations.drop(claims.lease_id)  # the owner takes its own slot
            source = self._peers.dispatch(address, spec, attempt)
        async with aclosing(source) as events:
            async for event in events:
                yield event
