"""`POST /v1/chat/completions` and `POST /v1/completions`: run a job, answer whole or as SSE."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from .. import events
from ..errors import GatewayError
from ..exchange_client import Settled
from ..inference import InferenceRequest, parse_chat, parse_completion
from ..job import Finished, RunningJob
from ..stages import Stopwatch
from . import render
from .body import read_json
from .errors import error_body

if TYPE_CHECKING:
    from ..paid import Caller
    from .app import Context

SSE_HEADERS = {"cache-control": "no-cache, no-transform", "x-accel-buffering": "no"}


async def chat(request: Request) -> Response:
    ctx: Context = request.app.state.ctx
    watch = Stopwatch()
    caller = await ctx.auth.caller(request)
    watch.lap("auth")
    body = await read_json(request, ctx.config.limits.max_body_bytes)
    salt = os.urandom(16).hex() if ctx.salt_input else None
    req = parse_chat(body, ctx.config.limits, salt)
    watch.lap("parse")
    return await _run(request, caller, req, watch)


async def completions(request: Request) -> Response:
    ctx: Context = request.app.state.ctx
    watch = Stopwatch()
    caller = await ctx.auth.caller(request)
    watch.lap("auth")
    req = parse_completion(await read_json(request, ctx.config.limits.max_body_bytes),
                           ctx.config.limits)  # fmt: skip
    watch.lap("parse")
    return await _run(request, caller, req, watch)


async def _run(
    request: Request, caller: Caller, req: InferenceRequest, watch: Stopwatch
) -> Response:
    ctx: Context = request.app.state.ctx
    job = await ctx.paid.start(caller, req, watch)
    route = request.url.path
    if req.stream:
        events.answered(route, 200)
        headers = {**SSE_HEADERS, **render.headers(job.x_cocore())}
        return StreamingResponse(_stream(job), media_type="text/event-stream", headers=headers)
    finished: Finished | None = None
    async for item in job.deltas():
        if isinstance(item, Finished):
            finished = item
    assert finished is not None
    settled = await _wait(job, ctx.config.settle_wait_ms)
    x_cocore = job.x_cocore(settled)
    events.answered(route, 200)
    answer = JSONResponse(render.whole(job, finished, x_cocore), headers=render.headers(x_cocore))
    watch.lap("render")
    watch.since_start("whole")
    return answer


async def _wait(job: RunningJob, wait_ms: int) -> Settled | None:
    if job.settlement is None or wait_ms <= 0:
        return None
    try:
        return await asyncio.wait_for(asyncio.shield(job.settlement), wait_ms / 1000)
    except TimeoutError:
        return None


async def _stream(job: RunningJob) -> AsyncIterator[str]:
    writer = render.ChunkWriter(job)
    try:
        async for item in job.deltas():
            if isinstance(item, Finished):
                yield writer.finish(item, job.x_cocore())
            else:
                yield writer.delta(item)
    except GatewayError as e:
        # Past the first chunk the status is sent: the error travels as the last frame.
        _, body, _ = error_body(e)
        events.answered("stream", 200, e.code)
        yield render.sse(body)
