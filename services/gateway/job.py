"""One running job: its dispatch events opened into deltas, its end, and its hold's fate."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cocore.crypto import ReplyOpener

from . import events
from .errors import (
    GatewayError,
    InvalidRequest,
    NoProviders,
    ProviderError,
    ProviderTimeout,
)
from .exchange_client import NO_HOLD, Hold, Settled
from .inference import InferenceRequest
from .matchmaker_client import NEVER_RAN, Chunks, Completed, Event, Failed, Failover, Started
from .output import Delta, Opened
from .policy import Policy
from .pricing import rate_price
from .records import JobRecords
from .settle import SettleJob
from .stages import Stopwatch

if TYPE_CHECKING:
    from .paid import Caller, PaidPath

_TIMEOUTS = ("first_chunk_timeout", "idle_timeout", "accept_timeout", "deadline_exceeded")
_BUSY = NEVER_RAN | {"no_attempt", "no_attempt_left"}
_REFUSED_INPUT = ("invalid_request", "context_too_long", "input_too_large")


@dataclass(frozen=True, slots=True)
class Finished:
    tokens_in: int
    tokens_out: int
    finish_reason: str
    receipt_uri: str
    price: int


@dataclass
class RunningJob:
    paid: PaidPath
    caller: Caller
    req: InferenceRequest
    policy: Policy
    records: JobRecords
    openers: dict[tuple[str, str], ReplyOpener]  # by machine (did, machine_id)
    events: AsyncIterator[Event]
    started_at: float
    tpm: int
    recorded: asyncio.Future[None] | None = None  # the job records' outbox write, once begun
    watch: Stopwatch = field(default_factory=Stopwatch)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created: int = field(default_factory=lambda: int(time.time()))
    provider_did: str = ""
    machine_id: str = ""
    finished: Finished | None = None
    settlement: asyncio.Task[Settled | None] | None = None
    _buffer: list[Event] = field(default_factory=list)
    _opened: Opened | None = None
    hold: Hold = NO_HOLD  # until `held`: the hold is taken while the job starts
    _hold_open: bool = False
    _ended: bool = False  # its one job_ended line is written
    _streamed: bool = False  # a chunk reached the caller: the job goes on record

    def held(self, hold: Hold) -> None:
        """The exchange holds `hold` for this job: captured at settlement, else released."""
        self.hold, self._hold_open = hold, bool(hold.hold_id)

    async def prime(self) -> None:
        """Read until the first chunk (or the end): failover happens before it, and a job
        that never streams fails with a real HTTP status instead of an SSE error frame."""
        try:
            async for event in self.events:
                self._buffer.append(event)
                if isinstance(event, Started):
                    self.watch.lap("dispatch_accepted")
                    self._started(event)
                if isinstance(event, Chunks | Completed | Failed):
                    if isinstance(event, Chunks):
                        self.watch.lap("first_chunk")
                        self.watch.since_start("ttft")
                        events.first_chunk(time.monotonic() - self.started_at)
                    break
            else:
                self._buffer.append(Failed("stream_ended", "the dispatch ended early"))
            if isinstance(self._buffer[-1], Failed):
                raise _error(self._buffer[-1])
        except BaseException:
            await self.close("refused")
            raise

    async def deltas(self) -> AsyncIterator[Delta | Finished]:
        """The job's output; raises a GatewayError if it fails part-way."""
        try:
            async for event in self._source():
                if isinstance(event, Started):
                    self._started(event)
                elif isinstance(event, Chunks):
                    assert self._opened is not None, "chunks before a started event"
                    opened = self._opened.open(event.first_seq, event.chunks)
                    self._streamed = True  # opened: its text reaches the caller now
                    for delta in opened:
                        yield delta
                elif isinstance(event, Completed):
                    self.watch.lap("rest_of_stream")
                    yield self._complete(event)
                    return
                elif isinstance(event, Failed):
                    raise _error(event)
                elif isinstance(event, Failover):
                    continue
            raise ProviderError("the provider stream ended early", code="stream_ended")
        finally:
            await self.close("failed" if self.finished is None else "completed")

    async def _source(self) -> AsyncIterator[Event]:
        while self._buffer:
            yield self._buffer.pop(0)
        async for event in self.events:
            yield event

    def _started(self, event: Started) -> None:
        self.provider_did, self.machine_id = event.did, event.machine_id
        self._opened = Opened(self.openers[(event.did, event.machine_id)])

    def _complete(self, event: Completed) -> Finished:
        assert self._opened is not None
        expected = event.output_cipher_commitment
        if expected and expected != self._opened.cipher_commitment():
            raise ProviderError("the reply bytes do not match the provider's commitment",
                                code="output_commitment_mismatch")  # fmt: skip
        price = 0 if self.req.routing.pro_bono else rate_price(
            event.tokens_in, event.tokens_out, self.policy.rate)  # fmt: skip
        reason = event.finish_reason
        if self._opened.tool_calls and reason == "stop":
            reason = "tool_calls"
        self.finished = Finished(
            event.tokens_in, event.tokens_out, reason, event.receipt_uri, price
        )
        key = self.caller.key
        self.paid.limiter.record_tokens(key.id, event.tokens_in + event.tokens_out, self.tpm)
        self.paid.keys.spend(key.id, price)
        if event.receipt_uri:
            self._queue_records()
            self._hold_open = False  # the settler captures or releases it now
            job = SettleJob(self.records, self.hold.hold_id, event.receipt_uri,
                            event.receipt_cid, self.recorded)  # fmt: skip
            self.settlement = self.paid.settler.submit(job)
        return self.finished

    def _queue_records(self) -> None:
        """Queue the job's records once its stream has ended (completed, or failed or
        cancelled part-way): written while it streamed, the outbox commit and the PDS commit
        it leads to took the cores from the job's own tokens (bench/gateway: +7 ms p50 on
        a whole answer). A job refused before it streamed leaves nothing to publish."""
        if self.recorded is None:
            self.recorded = self.paid.record(self.caller.did, self.records, self.watch)

    async def close(self, outcome: str) -> None:
        """End the dispatch (cancelling the provider if it still runs); free an unused hold."""
        if self._streamed:  # before any await: a cancelled caller must not skip it
            self._queue_records()  # a job that streamed, then failed, is still on record
        close = getattr(self.events, "aclose", None)
        if close is not None:
            await close()
        ended = (outcome, time.monotonic() - self.started_at, self.records.job.uri,
                 self.caller.did, self.paid.end_user_tag(self.caller, self.req.user))  # fmt: skip
        if self._hold_open:
            self._hold_open = False
            await self.paid.exchange.release(self.hold.hold_id)
        if not self._ended:
            self._ended = True
            events.job_ended(*ended)

    @property
    def content(self) -> str:
        return "".join(self._opened.content) if self._opened else ""

    @property
    def reasoning(self) -> str:
        return "".join(self._opened.reasoning) if self._opened else ""

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        return list(self._opened.tool_calls) if self._opened else []

    def x_cocore(self, settled: Settled | None = None) -> dict[str, Any]:
        """Which records this answer left behind (the `x_cocore` object and headers)."""
        f = self.finished
        price = (
            settled.amount if settled is not None and settled.settled else (f.price if f else None)
        )
        return {
            "job_uri": self.records.job.uri,
            "authorization_uri": self.records.authorization.uri,
            "receipt_uri": (f.receipt_uri or None) if f else None,
            "settlement_uri": settled.settlement_uri if settled and settled.settled else None,
            "provider_did": self.provider_did or None,
            "price": None if price is None else {"amount": price, "currency": self.policy.currency},
            "price_ceiling": {"amount": self.records.ceiling, "currency": self.policy.currency},
        }


def _error(event: Failed) -> GatewayError:
    details = {"provider_code": event.code}
    if event.code in _TIMEOUTS or event.code.endswith("_timeout"):
        return ProviderTimeout("the provider did not answer in time", details=details)
    if event.code in _BUSY:
        return NoProviders("no provider could take this job now", details=details)
    if event.code in _REFUSED_INPUT:
        return InvalidRequest(f"the provider refused the input ({event.code})",
                              code=event.code, details=details)  # fmt: skip
    return ProviderError(f"the provider failed ({event.code})", details=details)
