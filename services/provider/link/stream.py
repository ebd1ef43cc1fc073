"""One Connect stream: register, answer the challenge, then pump frames both ways."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import TYPE_CHECKING, Any

import grpc

from cocore.errors import CocoreError
from cocore.proto.matchmaker.v1 import matchmaker_pb2 as pb
from cocore.rpc import error_from_rpc
from cocore.signing import challenge_response_signing_bytes

from .errors import LinkError

if TYPE_CHECKING:
    from .link import ProviderLink


class StreamSession:
    """Lives for one connection; the link's job table outlives it."""

    def __init__(self, link: ProviderLink, call: Any) -> None:
        self._link = link
        self._call = call
        self._control: deque[pb.ProviderFrame] = deque()
        self.wake = asyncio.Event()
        self.registered: pb.Registered | None = None

    def send(self, frame: pb.ProviderFrame) -> None:
        self._control.append(frame)
        self.wake.set()

    async def run(self) -> None:
        """Register, then serve until the stream ends (LinkError says why, if not cleanly)."""
        try:
            await self._register()
            await self._pump()
        except grpc.aio.AioRpcError as e:
            if e.code() == grpc.StatusCode.CANCELLED:
                return
            error = error_from_rpc(e)
            raise LinkError(error.message, code=error.code, details=error.details) from None
        except asyncio.InvalidStateError:  # a write after the call already failed
            await self._raise_status()
            raise LinkError("the stream ended", code="stream_ended") from None
        except CocoreError as e:  # no service-auth token (the PDS is unreachable, …)
            if isinstance(e, LinkError):
                raise
            raise LinkError(f"cannot register: {e.message}", code="token_unavailable") from None

    async def _register(self) -> None:
        link = self._link
        await self._call.write(link.register_frame(await link.service_token()))
        challenge = await self._read(link.settings.connect_timeout_s)
        if challenge.WhichOneof("frame") != "challenge":
            raise LinkError("the matchmaker did not challenge", code="protocol_violation")
        await self._call.write(self.answer(challenge.challenge))
        registered = await self._read(link.settings.connect_timeout_s)
        if registered.WhichOneof("frame") != "registered":
            raise LinkError("the matchmaker did not register us", code="protocol_violation")
        self.registered = registered.registered
        link.on_registered(self)
        for frame in link.jobs.resumes():
            self.send(frame)

    async def _read(self, timeout_s: float) -> pb.MatchmakerFrame:
        try:
            frame = await asyncio.wait_for(self._call.read(), timeout_s)
        except TimeoutError:
            raise LinkError("the matchmaker did not answer in time", code="timeout") from None
        if frame is grpc.aio.EOF:
            await self._raise_status()
            raise LinkError("the matchmaker closed the stream", code="stream_ended")
        assert isinstance(frame, pb.MatchmakerFrame)
        return frame

    async def _raise_status(self) -> None:
        code = await self._call.code()
        if code != grpc.StatusCode.OK:
            details = await self._call.details()
            trailing = await self._call.trailing_metadata()
            error = error_from_rpc(_Status(code, details, trailing))
            raise LinkError(error.message, code=error.code, details=error.details)

    def answer(self, challenge: pb.Challenge) -> pb.ProviderFrame:
        posture = self._link.posture()
        message = challenge_response_signing_bytes(
            challenge.nonce, challenge.timestamp,
            sip_enabled=posture.sip_enabled, hypervisor_present=posture.hypervisor_present,
        )  # fmt: skip
        response = pb.ChallengeResponse(
            nonce=challenge.nonce, timestamp=challenge.timestamp,
            signature=self._link.identity.attestation_key.sign_der(message),
        )  # fmt: skip
        if posture.sip_enabled is not None:
            response.sip_enabled = posture.sip_enabled
        if posture.hypervisor_present is not None:
            response.hypervisor_present = posture.hypervisor_present
        return pb.ProviderFrame(challenge_response=response)

    async def _pump(self) -> None:
        tasks = [
            asyncio.ensure_future(self._read_loop()),
            asyncio.ensure_future(self._write_loop()),
            asyncio.ensure_future(self._tick_loop()),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # re-raise what ended it
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _read_loop(self) -> None:
        while True:
            frame = await self._call.read()
            if frame is grpc.aio.EOF:
                await self._raise_status()
                return
            self._link.handle(self, frame)

    async def _write_loop(self) -> None:
        jobs = self._link.jobs
        while True:
            self.wake.clear()
            wrote = await self._flush_control()
            for frame in jobs.pull():
                await self._call.write(frame)
                await self._flush_control()
                wrote = True
            if self._link.closing and not jobs.jobs:
                with contextlib.suppress(grpc.aio.UsageError):
                    await self._call.done_writing()
                return
            if not wrote:
                await self.wake.wait()

    async def _flush_control(self) -> bool:
        wrote = False
        while self._control:
            await self._call.write(self._control.popleft())
            wrote = True
        return wrote

    async def _tick_loop(self) -> None:
        link = self._link
        assert self.registered is not None
        beat_s = max(self.registered.heartbeat_interval_ms / 1000, 0.05)
        keepalive_s = link.settings.keepalive_interval_s
        tick = min(beat_s, keepalive_s)
        next_beat = 0.0
        loop = asyncio.get_running_loop()
        while True:
            if loop.time() >= next_beat:
                self.send(link.heartbeat_frame())
                next_beat = loop.time() + beat_s
            for frame in link.jobs.keepalives(keepalive_s):
                self.send(frame)
            await asyncio.sleep(tick)


class _Status:
    """A finished call's status in the shape `error_from_rpc` reads."""

    def __init__(self, code: grpc.StatusCode, details: str | None, trailing: Any) -> None:
        self._code, self._details, self._trailing = code, details, trailing

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str | None:
        return self._details

    def trailing_metadata(self) -> Any:
        return self._trailing
