"""One provider's Connect stream: register, prove the keys, then route frames in order."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from cocore.errors import CocoreError
from cocore.proto.matchmaker.v1 import matchmaker_pb2 as pb

from ..errors import ProtocolViolation, StreamClosed, StreamTimeout
from ..pool import Identity, ProviderEntry, ProviderKey
from .attestation import AttestationFacts, Claimed
from .auth import Challenge, check_response, new_challenge
from .frames import handle_frame
from .hub import Hub
from .register import Registration, parse_register

# How long a refused registration waits for the challenge answer already on its way.
REFUSAL_WAIT_S = 2.0


class ProviderStream:
    """Reads frames in order, writes through one bounded queue, and owns all its timers."""

    def __init__(self, hub: Hub, requests: AsyncIterator[pb.ProviderFrame], context: Any) -> None:
        self.hub = hub
        self._requests = requests.__aiter__()
        self._context = context
        self._loop = asyncio.get_running_loop()
        self._out: asyncio.Queue[pb.MatchmakerFrame] = asyncio.Queue(hub.streams.outbound_queue)
        self._closed = asyncio.Event()
        self._error: CocoreError | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.key: ProviderKey | None = None
        self.entry: ProviderEntry | None = None
        self.registration: Registration | None = None
        self.challenge: Challenge | None = None
        self.last_frame_at = self._last_challenge_at = self._loop.time()

    # ------------------------------------------------------------ outbound

    def send(self, frame: pb.MatchmakerFrame) -> bool:
        if self._closed.is_set():
            return False
        try:
            self._out.put_nowait(frame)
        except asyncio.QueueFull:
            self.close(StreamClosed("the provider is not reading its stream", code="not_reading"))
            return False
        return True

    def close(self, error: CocoreError | None) -> None:
        """End the stream (with `error` as its status, or OK); idempotent."""
        if not self._closed.is_set():
            self._error = error
            self._closed.set()

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """A task that dies with the stream (so no timer or fetch outlives it)."""
        task = self._loop.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        self.spawn(self._write_loop())
        try:
            await self._register()
            self.spawn(self._read_loop())
            self.spawn(self._tick_loop())
            await self._closed.wait()
        finally:
            for task in list(self._tasks):
                task.cancel()
            self.hub.disconnected(self)
        if self._error is not None:
            raise self._error

    async def _write_loop(self) -> None:
        while True:
            frame = await self._out.get()
            try:
                await self._context.write(frame)
            except Exception:  # noqa: BLE001 (any write failure means the peer is gone)
                self.close(None)
                return

    async def _read_loop(self) -> None:
        try:
            async for frame in self._requests:
                self.last_frame_at = self._loop.time()
                handle_frame(self, frame)
                if self._closed.is_set():
                    return
        except CocoreError as e:
            self.close(e)
            return
        self.close(None)  # the provider ended its side

    async def _tick_loop(self) -> None:
        s = self.hub.streams
        tick = min(s.ping_interval_s, s.liveness_timeout_s / 3, s.challenge_timeout_s)
        while not self._closed.is_set():
            await asyncio.sleep(tick)
            self._tick(self._loop.time())

    def _tick(self, now: float) -> None:
        s, pending = self.hub.streams, self.challenge
        if now - self.last_frame_at > s.liveness_timeout_s:
            self.close(StreamTimeout("no frame from the provider", code="heartbeat_timeout"))
        elif pending is not None and now - pending.sent_at > s.challenge_timeout_s:
            if self.entry is not None:
                self.entry.attested_at = None  # unproven from now on
            self.close(StreamTimeout("challenge not answered", code="challenge_timeout"))
        else:
            if pending is None and now - self._last_challenge_at >= s.rechallenge_interval_s:
                self._send_challenge()
            if now - self.last_frame_at >= s.ping_interval_s:  # heartbeats already prove life
                self.send(pb.MatchmakerFrame(ping=pb.Ping(nonce=secrets.token_hex(8))))

    # ------------------------------------------------------------ registration

    async def _register(self) -> None:
        s = self.hub.streams
        first = await self._next(s.register_timeout_s, "register_timeout")
        if first.WhichOneof("frame") != "register":
            raise ProtocolViolation("the first frame must be register", code="register_expected")
        reg = self.registration = parse_register(first.register)
        challenge = self._send_challenge()  # the provider signs while we check its token
        try:
            await self.hub.tokens.verify(reg.auth_jwt, reg.did)
            facts = await self.hub.attestations.check(_claimed(reg))
        except CocoreError:
            await self._read_answer_before_refusing(challenge)
            raise
        answer = await self._next(self._challenge_left(challenge), "challenge_timeout")
        if answer.WhichOneof("frame") != "challenge_response":
            raise ProtocolViolation("answer the challenge first", code="frame_before_register")
        check_response(challenge, answer.challenge_response, reg.attestation_key)
        self.challenge = None
        entry = _entry(reg, facts, self.hub, answer.challenge_response)
        self.key, self.entry = entry.key, entry
        self.hub.attach(self, entry)
        self.send(pb.MatchmakerFrame(registered=_registered(self.hub)))

    async def _read_answer_before_refusing(self, challenge: Challenge) -> None:
        """Let the provider's answer in before the refusal goes out: a gRPC client whose
        write meets a call the server already ended reads INTERNAL ("Internal error from
        Core") instead of the refusal, and the provider would not learn why (measured: 4 of
        10 refused registrations on a loaded host)."""
        wait_s = min(self._challenge_left(challenge), REFUSAL_WAIT_S)
        with contextlib.suppress(CocoreError):
            await self._next(wait_s, "challenge_timeout")

    def _challenge_left(self, challenge: Challenge) -> float:
        return challenge.sent_at + self.hub.streams.challenge_timeout_s - self._loop.time()

    async def _next(self, timeout_s: float, code: str) -> pb.ProviderFrame:
        try:
            return await asyncio.wait_for(anext(self._requests), max(timeout_s, 0.001))
        except TimeoutError:
            raise StreamTimeout("the provider did not answer in time", code=code) from None
        except StopAsyncIteration:
            raise StreamClosed("the provider closed the stream", code="stream_ended") from None

    def _send_challenge(self) -> Challenge:
        self.challenge = new_challenge(self.hub.wall_clock, self._loop.time())
        self._last_challenge_at = self.challenge.sent_at
        self.send(self.challenge.frame())
        return self.challenge

    def challenge_answered(self, response: pb.ChallengeResponse) -> None:
        assert self.challenge is not None and self.registration is not None
        check_response(self.challenge, response, self.registration.attestation_key)
        self.challenge = None
        if self.entry is not None:
            self.entry.attested_at = self.hub.wall_clock()
            self.entry.sip_enabled = _sip(response)


def _claimed(reg: Registration) -> Claimed:
    return Claimed(
        reg.did, reg.attestation, reg.attestation_pub_key, reg.encryption_pub_key, reg.enc_scheme
    )


def _entry(
    reg: Registration, facts: AttestationFacts, hub: Hub, answer: pb.ChallengeResponse
) -> ProviderEntry:
    identity = Identity(
        did=reg.did,
        machine_id=reg.machine_id,
        attestation_pub_key=reg.attestation_pub_key,
        encryption_pub_key=reg.encryption_pub_key,
        enc_scheme=reg.enc_scheme.value,
        attestation=reg.attestation,
        attestation_expires_at=facts.expires_at,
        trust_level=facts.trust_level,
        tier=facts.tier,
    )
    now = hub.wall_clock()
    return ProviderEntry(
        identity=identity,
        models=reg.facts.models,
        slots=reg.facts.slots,
        version=reg.version,
        binary_version=reg.binary_version,
        country=reg.facts.country,
        pro_bono=reg.facts.pro_bono,
        label=reg.label,
        replica_id=hub.replica_id,
        attested_at=now,
        sip_enabled=_sip(answer),
        connected_at=now,
    )


def _sip(response: pb.ChallengeResponse) -> bool | None:
    return response.sip_enabled if response.HasField("sip_enabled") else None


def _registered(hub: Hub) -> pb.Registered:
    s, jobs = hub.streams, hub.jobs
    return pb.Registered(
        replica_id=hub.replica_id,
        heartbeat_interval_ms=round(s.heartbeat_interval_s * 1000),
        max_chunk_bytes=s.max_chunk_bytes,
        window_chunks=s.window_chunks,
        resume_grace_ms=round(jobs.resume_grace_s * 1000),
    )
