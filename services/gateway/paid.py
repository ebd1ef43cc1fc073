"""The paid path: key → DID → admit (hold) → pick → seal → dispatch → stream → settle.

Admission and the pick run concurrently; the job records are queued in the durable outbox
once the job streams, and only the settler waits for that write (their strongRefs were
computed locally, so nothing on the way to the first token waits for a disk or the
requester's PDS, §6 item 17). The hold is released on every path that does not end in a
receipt (§6 item 1).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cocore.canonical import canonicalize
from cocore.crypto import sha256_hex
from cocore.syntax import TidClock, parse_did

from . import pricing
from .errors import GatewayError, InsufficientBalance, Unavailable
from .exchange_client import NO_HOLD, ExchangeClient, Hold
from .friends import Friends
from .inference import InferenceRequest
from .job import RunningJob
from .keys import KeyInfo, KeyStore
from .matchmaker_client import Attempt, Candidate, JobSpec, MatchmakerClient, PickQuery
from .outbox import Outbox
from .policy import Policy, PolicySource
from .ratelimit import RateLimiter
from .records import JobRecords, build
from .sealing import Openers, Sealing
from .settle import Settler
from .stages import Stopwatch
from .terms import TermsGate

log = logging.getLogger("cocore.gateway")
# When several steps fail at once, the answer names the most fundamental problem.
_PRIORITY = ("invalid_request", "model_not_found", "insufficient_balance", "budget_exceeded")


@dataclass(frozen=True, slots=True)
class Caller:
    did: str
    key: KeyInfo


@dataclass
class PaidPath:
    policies: PolicySource
    terms: TermsGate
    friends: Friends
    keys: KeyStore
    limiter: RateLimiter
    exchange: ExchangeClient
    matchmaker: MatchmakerClient
    outbox: Outbox
    settler: Settler
    clock: Callable[[], datetime]
    job_ttl_s: int = 3600
    hold_ttl_s: int = 900
    failover_candidates: int = 3
    default_rpm: int = 0
    default_tpm: int = 0
    sealing: Sealing = field(default_factory=Sealing)
    tids: TidClock = field(default_factory=TidClock)
    nonce: Callable[[], str] = field(default=lambda: os.urandom(16).hex())
    # Keys the `user` tags in the job log: stable across restarts, unguessable from outside.
    end_user_key: bytes = field(default_factory=lambda: os.urandom(32))

    def end_user_tag(self, caller: Caller, user: str | None) -> str:
        """OpenAI's `user` as a short keyed tag: traceable per key, never stored in clear."""
        if not user:
            return "-"
        message = f"{caller.key.id}\0{user}".encode()
        return hmac.new(self.end_user_key, message, hashlib.sha256).hexdigest()[:16]

    def limits(self, key: KeyInfo) -> tuple[int, int]:
        rpm = key.requests_per_minute if key.requests_per_minute is not None else self.default_rpm
        tpm = key.tokens_per_minute if key.tokens_per_minute is not None else self.default_tpm
        return rpm, tpm

    async def start(
        self, caller: Caller, req: InferenceRequest, watch: Stopwatch | None = None
    ) -> RunningJob:
        started = time.monotonic()
        watch = watch or Stopwatch()
        policy = await self.policies.current()
        await self.terms.require(caller.did, policy)
        rpm, tpm = self.limits(caller.key)
        self.limiter.admit(caller.key.id, rpm, tpm)
        ceiling = 0 if req.routing.pro_bono else _ceiling(req, policy)
        self._check_budget(caller.key, ceiling)
        accepted = await self._accepted(caller.did, req)
        watch.lap("prepare")
        records = build(
            parse_did(caller.did), req, policy, ceiling=ceiling,
            input_commitment=sha256_hex(req.input_bytes), accepted_providers=accepted,
            now=self.clock(), ttl_s=self.job_ttl_s, tids=self.tids, nonce=self.nonce,
        )  # fmt: skip
        watch.lap("records")
        openers: Openers = {}
        presealed = self.sealing.preseal(req.model, req.input_bytes, openers)
        watch.lap("preseal")

        def seal(candidates: list[Candidate]) -> list[Attempt]:
            return self.sealing.seal(req.model, candidates, req.input_bytes, openers)

        events = self.matchmaker.run(
            _spec(caller.did, req, records, policy), self._query(caller, req, accepted),
            presealed, seal,
        )  # fmt: skip
        job = RunningJob(
            paid=self, caller=caller, req=req, policy=policy, records=records, openers=openers,
            started_at=started, tpm=tpm, watch=watch, events=events,
        )  # fmt: skip
        job.held(await self._admit_while_priming(job))
        return job

    async def _admit_while_priming(self, job: RunningJob) -> Hold:
        """The hold, taken while the job is picked, dispatched and primed; a refused hold
        cancels the job at once, a job that fails gives its hold back."""
        records = job.records
        admit: Awaitable[Hold] = (
            _no_hold() if job.req.routing.pro_bono else self.exchange.admit(
                did=job.caller.did, amount=records.ceiling, currency=job.policy.currency,
                key=records.key, job_uri=records.job.uri, ttl_s=self.hold_ttl_s,
            )
        )  # fmt: skip
        priming = asyncio.ensure_future(job.prime())  # first: the first token waits on it
        holding = asyncio.ensure_future(job.watch.timed("admit", _after_one_turn(admit)))
        try:
            await asyncio.wait((holding, priming), return_when=asyncio.FIRST_EXCEPTION)
            if holding.done() and not _ok(holding):
                priming.cancel()  # no hold: the job stops now, without waiting for its first token
            await asyncio.wait((holding, priming))
        except BaseException:  # cancelled: neither goes on alone
            priming.cancel()
            await asyncio.wait((holding, priming))
            await self._undo(job, holding, priming)
            raise
        if _ok(holding) and _ok(priming):
            return holding.result()
        await self._undo(job, holding, priming)
        failures = [t.exception() for t in (holding, priming) if t.done() and not t.cancelled()]
        raise _first([f for f in failures if f is not None])

    async def _undo(
        self, job: RunningJob, holding: asyncio.Future[Hold], priming: asyncio.Future[None]
    ) -> None:
        """Whichever half succeeded goes back: the hold is released, a primed job ends."""
        if _ok(holding) and holding.result().hold_id:
            await self.exchange.release(holding.result().hold_id)
        if _ok(priming):  # a job that failed to prime has closed itself
            await job.close("refused")

    def _query(self, caller: Caller, req: InferenceRequest, accepted: list[str]) -> PickQuery:
        r = req.routing
        return PickQuery(
            model=req.model, requester_did=caller.did, min_trust=r.min_trust,
            accepted_providers=tuple(accepted) if r.provider else (),
            friends=tuple(accepted) if r.friends_only else None, country=r.country,
            min_version=r.min_version, needs_tools=req.needs_tools, pro_bono=r.pro_bono,
            max_candidates=1 if r.provider else self.failover_candidates,
        )  # fmt: skip

    def record(self, did: str, records: JobRecords, watch: Stopwatch) -> asyncio.Task[None]:
        """Queue the job's records in the durable outbox, in the background; the settler
        awaits the task (durable before settlement, never before the first token)."""
        queued = self.outbox.enqueue(did, records.key, [records.authorization, records.job])
        task = asyncio.create_task(watch.timed("outbox", queued), name=f"record {records.key}")
        task.add_done_callback(_log_failure)
        return task

    def _check_budget(self, key: KeyInfo, ceiling: int) -> None:
        if key.budget is not None and self.keys.spent(key) + ceiling > key.budget:
            raise InsufficientBalance(
                f"this key's budget ({key.budget}) cannot cover a request that may cost "
                f"{ceiling}", code="budget_exceeded",
                details={"budget": key.budget, "spent": self.keys.spent(key), "ceiling": ceiling},
            )  # fmt: skip

    async def _accepted(self, did: str, req: InferenceRequest) -> list[str]:
        pinned = [req.routing.provider] if req.routing.provider else []
        if not req.routing.friends_only:
            return pinned
        friends = list(await self.friends.of(did))
        return [p for p in pinned if p in friends] if pinned else friends


def _ok(task: asyncio.Future[Any]) -> bool:
    return task.done() and not task.cancelled() and task.exception() is None


async def _no_hold() -> Hold:
    return NO_HOLD


async def _after_one_turn(step: Awaitable[Hold]) -> Hold:
    """`step`, one loop turn later: the dispatch call started just before queues its send as
    a task, which then goes out before the admit request is built (~0.5 ms of this loop)."""
    await asyncio.sleep(0)
    return await step


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("job_records_not_queued error=%s", type(task.exception()).__name__)


def _first(failures: list[BaseException]) -> BaseException:
    known = [f for f in failures if isinstance(f, GatewayError)]
    for code in _PRIORITY:
        for f in known:
            if f.code == code:
                return f
    if known:
        return known[0]
    other = failures[0]
    if not isinstance(other, Exception):
        return other  # cancellation and the like travel on unchanged
    return Unavailable("a gateway dependency failed", code="dependency_failed")


def _ceiling(req: InferenceRequest, policy: Policy) -> int:
    bound = pricing.input_token_bound(len(req.input_bytes), req.spec_json_bytes, req.message_count)
    return pricing.ceiling(bound, req.sampling.max_tokens, policy.rate)


def _milli(value: float | None) -> int | None:
    return None if value is None else round(value * 1000)


def _spec(did: str, req: InferenceRequest, records: JobRecords, policy: Policy) -> JobSpec:
    s = req.sampling
    return JobSpec(
        requester_did=did, model=req.model, input_format=req.input_format,
        max_tokens=s.max_tokens, temperature_milli=_milli(s.temperature),
        top_p_milli=_milli(s.top_p), seed=s.seed, stop=s.stop,
        tools_json=canonicalize(req.tools) if req.tools else b"",
        tool_choice=req.tool_choice, tool_choice_function=req.tool_choice_function,
        output_schema_json=canonicalize(req.output_schema) if req.output_schema else b"",
        job=(records.job.uri, records.job.cid),
        authorization=(records.authorization.uri, records.authorization.cid),
        price_ceiling=(records.ceiling, policy.currency), pro_bono=req.routing.pro_bono,
    )  # fmt: skip
