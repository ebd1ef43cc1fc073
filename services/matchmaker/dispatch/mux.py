"""DispatchStream: many Dispatches on one long-lived call, each job a task of its own.

A job's events go out tagged with its ref, then its JobEnd: OK, or the status its Dispatch
call would have ended with. A cancel stops one job, as ending its Dispatch call would; the
stream ending stops every job still on it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing

from cocore.proto.matchmaker.v1 import matchmaker_pb2 as pb
from cocore.rpc.errors import parts_for

from ..errors import DispatchInvalid
from .front import Events

log = logging.getLogger("cocore.matchmaker")
METHOD = "/cocore.matchmaker.v1.Matchmaker/DispatchStream"  # for the log of unexpected errors

Run = Callable[[pb.DispatchRequest], Events]
Write = Callable[[pb.DispatchStreamEvent], Awaitable[None]]


class DispatchMux:
    def __init__(self, run: Run, write: Write) -> None:
        self._run = run
        self._write = write
        self._writing = asyncio.Lock()  # one message at a time on the shared stream
        self._jobs: dict[int, asyncio.Task[None]] = {}
        self._closing = False

    async def serve(self, requests: AsyncIterator[pb.DispatchStreamRequest]) -> None:
        """Until the caller closes the stream; then every job still on it stops."""
        try:
            async for request in requests:
                kind = request.WhichOneof("request")
                if kind == "dispatch":
                    self._start(request.ref, request.dispatch)
                elif kind == "cancel" and (job := self._jobs.get(request.ref)) is not None:
                    job.cancel()
        finally:
            self._closing = True  # nobody is left to tell how the jobs ended
            jobs = list(self._jobs.values())
            for job in jobs:
                job.cancel()
            await asyncio.gather(*jobs, return_exceptions=True)

    def _start(self, ref: int, request: pb.DispatchRequest) -> None:
        if ref in self._jobs:
            raise DispatchInvalid(f"ref {ref} is already running on this stream",
                                  code="duplicate_ref")  # fmt: skip
        job = asyncio.create_task(self._job(ref, request), name=f"dispatch {ref}")
        self._jobs[ref] = job
        job.add_done_callback(lambda _: self._ended(ref, job))

    def _ended(self, ref: int, job: asyncio.Task[None]) -> None:
        if self._jobs.get(ref) is job:
            del self._jobs[ref]
        if not job.cancelled() and (e := job.exception()) is not None:
            log.info("dispatch_stream_broken error=%s", type(e).__name__)  # its end is lost

    async def _job(self, ref: int, request: pb.DispatchRequest) -> None:
        end = await self._events(ref, request)
        if not self._closing:
            await self._send(pb.DispatchStreamEvent(ref=ref, end=end))

    async def _events(self, ref: int, request: pb.DispatchRequest) -> pb.JobEnd:
        """Send the job's events; how it ended. Its events are closed on every way out, so
        a cancelled job stops at its provider at once."""
        try:
            async with aclosing(self._run(request)) as events:
                async for event in events:
                    await self._send(pb.DispatchStreamEvent(ref=ref, event=event))
        except asyncio.CancelledError:
            if self._closing:
                raise
            return pb.JobEnd(status="CANCELLED", code="cancelled", message="the caller cancelled")
        except Exception as e:
            parts = parts_for(e)
            if parts.status == "INTERNAL":  # the method and traceback only, as for a call
                log.error("unhandled error in %s", METHOD, exc_info=e)
            return pb.JobEnd(status=parts.status, code=parts.code, message=parts.message,
                             details=parts.details)  # fmt: skip
        return pb.JobEnd(status="OK")

    async def _send(self, event: pb.DispatchStreamEvent) -> None:
        async with self._writing:
            await self._write(event)
