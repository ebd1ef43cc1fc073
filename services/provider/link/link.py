"""The provider's link to the matchmaker: reconnects, resumes held jobs, drains on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from dataclasses import dataclass, replace

from cocore.proto.common.v1 import common_pb2
from cocore.proto.matchmaker.v1 import matchmaker_pb2 as pb
from cocore.proto.matchmaker.v1 import matchmaker_pb2_grpc as pb_grpc
from cocore.rpc.tls import open_channel

from .errors import LinkError
from .jobs import JobTable
from .settings import (
    LinkIdentity,
    LinkSettings,
    LoadProbe,
    PostureProbe,
    TokenSource,
    no_load,
    no_posture,
)
from .stream import StreamSession
from .types import JobRunner, ModelSpec, ProBono, StrongRef

log = logging.getLogger("cocore.provider.link")
STREAM_RESUME_VERSION = 1


@dataclass(frozen=True, slots=True)
class LinkStatus:
    connected: bool
    replica_id: str
    jobs: int
    standing: str  # "ok", or why the matchmaker is unhappy ("first_chunk_timeout", …)
    last_error: str  # the code of the last stream failure, "" if none


class ProviderLink:
    """`await link.run()` serves until `drain()` (or `stop()`); one instance per machine."""

    def __init__(
        self,
        identity: LinkIdentity,
        settings: LinkSettings,
        runner: JobRunner,
        service_token: TokenSource,
        *,
        load: LoadProbe = no_load,
        posture: PostureProbe = no_posture,
    ) -> None:
        self.identity = identity
        self.settings = settings
        self.service_token = service_token
        self.posture = posture
        self._load = load
        self.jobs = JobTable(
            runner,
            slots=lambda: self.settings.slots,
            models=lambda: frozenset(m.id for m in self.settings.models),
            control=self._send,
            notify=self._notify,
            replay_budget_bytes=settings.replay_budget_bytes,
        )
        self.closing = False
        self._stream: StreamSession | None = None
        self._stop = asyncio.Event()
        self._standing = "ok"
        self._last_error = ""
        self._detached_at: float | None = None

    # ------------------------------------------------------------ public API

    @property
    def status(self) -> LinkStatus:
        stream = self._stream
        registered = stream.registered if stream is not None else None
        return LinkStatus(
            connected=registered is not None,
            replica_id=registered.replica_id if registered is not None else "",
            jobs=len(self.jobs), standing=self._standing, last_error=self._last_error,
        )  # fmt: skip

    async def run(self) -> None:
        options = [
            ("grpc.max_receive_message_length", self.settings.max_message_bytes),
            ("grpc.max_send_message_length", self.settings.max_message_bytes),
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.keepalive_timeout_ms", 10_000),
        ]
        backoff = self.settings.backoff_initial_s
        while not self._stop.is_set():
            # A fresh channel per stream: grpc's own reconnect backoff (up to minutes) must not
            # outlast ours, and a new connection may land on another replica.
            channel = open_channel(self.settings.address, tls=self.settings.tls,
                                   ca_file=self.settings.ca_file, options=options)  # fmt: skip
            async with channel:
                lived = await self._serve_once(pb_grpc.ProviderLinkStub(channel))
            if self._stop.is_set() or (self.closing and not self.jobs.jobs):
                break
            backoff = await self._pause(lived, backoff)
        self.jobs.abandon_all()

    async def drain(self, timeout_s: float = 60.0) -> None:
        """Stop taking jobs, let running ones finish (up to `timeout_s`), then close."""
        self.closing = self.jobs.draining = True
        self._send(pb.ProviderFrame(draining=pb.Draining(reason="shutting down")))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.jobs.wait_idle(), timeout_s)
        self.stop()

    def stop(self) -> None:
        """Close the stream now; held jobs are cancelled."""
        self._stop.set()
        if self._stream is not None:
            self._stream.wake.set()

    def update_attestation(self, attestation: StrongRef) -> None:
        """A renewed attestation record: used for every later register, announced now."""
        self.identity = replace(self.identity, attestation=attestation)
        ref = common_pb2.StrongRef(uri=attestation.uri, cid=attestation.cid)
        self._send(pb.ProviderFrame(attestation_updated=pb.AttestationUpdated(attestation=ref)))

    def update_provider(
        self,
        *,
        models: tuple[ModelSpec, ...] | None = None,
        slots: int | None = None,
        country: str | None = None,
        pro_bono: ProBono | None = None,
    ) -> None:
        """Live routing facts changed (models loaded, slots, country, pro-bono election)."""
        s = self.settings
        s = self.settings = replace(
            s,
            models=s.models if models is None else models,
            slots=s.slots if slots is None else slots,
            country=s.country if country is None else country,
            pro_bono=s.pro_bono if pro_bono is None else pro_bono,
        )
        update = pb.ProviderUpdated(
            models=_models(s.models),
            slots=s.slots,
            country=s.country,
            pro_bono=_pro_bono(s.pro_bono),
        )
        self._send(pb.ProviderFrame(provider_updated=update))

    # ------------------------------------------------------------ connection loop

    async def _serve_once(self, stub: pb_grpc.ProviderLinkStub) -> float:
        self._expire_held_jobs()
        started = time.monotonic()
        call = stub.Connect()
        session = StreamSession(self, call)
        self._stream = session
        stopper = asyncio.ensure_future(self._stop.wait())
        runner = asyncio.ensure_future(session.run())
        try:
            await asyncio.wait({stopper, runner}, return_when=asyncio.FIRST_COMPLETED)
            if runner.done():
                runner.result()
                self._last_error = ""
        except LinkError as e:
            self._last_error = e.code
            log.warning("matchmaker stream ended: %s (%s)", e.code, e.message)
        except Exception as e:  # noqa: BLE001 (the link outlives any one stream's failure)
            self._last_error = "link_failed"
            log.warning("matchmaker stream failed: %s", type(e).__name__)
        finally:
            stopper.cancel()
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
            call.cancel()
            self._stream = None
            self.jobs.detach_all()
            self._detached_at = time.monotonic()
        return time.monotonic() - started

    async def _pause(self, lived_s: float, backoff_s: float) -> float:
        """Wait before reconnecting; returns the next backoff."""
        s = self.settings
        if self.jobs.jobs:
            delay, backoff_s = s.backoff_initial_s, s.backoff_initial_s  # the resume grace is short
        elif lived_s >= s.healthy_after_s:
            delay, backoff_s = s.backoff_initial_s, s.backoff_initial_s
        else:
            delay, backoff_s = backoff_s, min(backoff_s * 2, s.backoff_max_s)
        # Jitter: a replica restart must not bring its whole fleet back in one instant.
        delay *= 0.8 + 0.4 * random.random()  # noqa: S311 (timing, not secrecy)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), delay)
        return backoff_s

    def _expire_held_jobs(self) -> None:
        detached = self._detached_at
        if detached is not None and time.monotonic() - detached > self.settings.retention_s:
            self.jobs.abandon_all()

    # ------------------------------------------------------------ called by the stream

    def on_registered(self, stream: StreamSession) -> None:
        registered = stream.registered
        assert registered is not None
        self.jobs.limits = replace(
            self.jobs.limits,
            window_chunks=max(1, registered.window_chunks),
            max_chunk_bytes=registered.max_chunk_bytes or self.jobs.limits.max_chunk_bytes,
        )
        self._detached_at = None
        self._standing = "ok"

    def handle(self, stream: StreamSession, frame: pb.MatchmakerFrame) -> None:
        kind = frame.WhichOneof("frame")
        if kind == "job":
            self.jobs.start(frame.job)
        elif kind == "ack":
            self.jobs.on_ack(frame.ack)
        elif kind == "resume_result":
            self.jobs.on_resume(frame.resume_result)
        elif kind == "cancel":
            self.jobs.cancel(frame.cancel.job_id)
        elif kind == "ping":
            stream.send(pb.ProviderFrame(pong=pb.Pong(nonce=frame.ping.nonce)))
        elif kind == "challenge":
            stream.send(stream.answer(frame.challenge))
        elif kind == "notice":
            self._notice(frame.notice)

    def _notice(self, notice: pb.Notice) -> None:
        if notice.kind == "health_bad":
            self._standing = notice.reason or "bad"
        elif notice.kind == "health_ok":
            self._standing = "ok"

    def register_frame(self, token: str) -> pb.ProviderFrame:
        i, s = self.identity, self.settings
        register = pb.Register(
            did=i.did, machine_id=i.machine_id, auth_jwt=token,
            attestation_pub_key=i.attestation_key.public_key.to_cocore_b64(),
            attestation=common_pb2.StrongRef(uri=i.attestation.uri, cid=i.attestation.cid),
            encryption_pub_key=i.encryption_pub_key, enc_scheme=i.enc_scheme.value,
            models=_models(s.models), slots=s.slots, binary_version=s.binary_version,
            country=s.country, pro_bono=_pro_bono(s.pro_bono),
            stream_resume_version=STREAM_RESUME_VERSION, machine_label=s.machine_label,
        )  # fmt: skip
        return pb.ProviderFrame(register=register)

    def heartbeat_frame(self) -> pb.ProviderFrame:
        report, running = self._load(), self.jobs.running()
        beat = pb.Heartbeat(
            free_slots=max(0, self.settings.slots - running), running_jobs=running,
            queued=report.queued, load=report.load,
        )  # fmt: skip
        return pb.ProviderFrame(heartbeat=beat)

    def _send(self, frame: pb.ProviderFrame) -> None:
        stream = self._stream
        if stream is not None and stream.registered is not None:
            stream.send(frame)

    def _notify(self) -> None:
        stream = self._stream
        if stream is not None:
            stream.wake.set()


def _models(models: tuple[ModelSpec, ...]) -> list[pb.ModelInfo]:
    return [pb.ModelInfo(id=m.id, context_length=m.context_length, tools=m.tools) for m in models]


def _pro_bono(policy: ProBono) -> pb.ProBono:
    return pb.ProBono(mode=policy.mode, dids=list(policy.dids))
