"""The paid path's floor: its processes and transports, doing no work (bench/gateway's floor rows).

The same chain as a streamed first token — client → Envoy (ext_authz `Check` on the gateway
process) → gateway HTTP (uvicorn on uvloop + httptools) → one long-lived bidi gRPC stream to
the matchmaker → the provider's outbound link stream → the provider's engine thread and back
the same way, then one SSE chunk — with each process answering at once: no keys, records,
holds, sealing, picking or model. What it costs is what the topology costs on this machine,
before any of the services' own work.

    python -m bench._floor matchmaker PORT
    python -m bench._floor provider MATCHMAKER_PORT [TINY_MODEL_DIR]
    python -m bench._floor gateway HTTP_PORT AUTHZ_PORT MATCHMAKER_PORT

Each prints `ready` once it serves; `Floor.start` runs the matchmaker, two providers (one
bare, one with the tiny model) and the gateway, then Envoy; `close` stops them by their PIDs.
Routes, each answered with one SSE content chunk: `/v1/floor/engine` goes the whole way to
the engine (the content is its first token), `/v1/floor/relay` to a provider whose engine
thread answers at once (content ""), `/v1/floor/local` only to the gateway (the edge and HTTP
alone; content "local").
"""

from __future__ import annotations

import asyncio
import json
import queue
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import uvicorn
import uvloop
from envoy.service.auth.v3 import external_auth_pb2 as authz
from envoy.service.auth.v3 import external_auth_pb2_grpc
from envoy.type.v3 import http_status_pb2
from google.rpc import status_pb2

from services.gateway.edge import EnvoyEdge, free_port
from services.provider.engine import Delta, EngineConfig, ModelSpec, load_engine
from services.provider.models import TINY_ID

from ._request import generation_request

SERVICE = "floor.Relay"
DENY = "x-floor-deny"  # a request header the floor's ext_authz refuses (403)
LOCAL = "local"  # what `/v1/floor/local` answers
ROUTES = {"/v1/floor/relay": b"b", "/v1/floor/engine": b"e"}  # → the provider to go to
SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]


class Matchmaker:
    """Relays each dispatch message to the provider its first byte names (`b`are or
    `e`ngine), and each link message back to the gateway."""

    def __init__(self) -> None:
        self.links: dict[bytes, Any] = {}  # a provider's first byte → its stream context
        self.linked: dict[bytes, asyncio.Event] = {b"b": asyncio.Event(), b"e": asyncio.Event()}
        self.dispatch: Any = None  # the gateway's stream context

    async def on_link(self, _: Any, context: Any) -> None:
        name = (await context.read())[:1]  # the provider's hello: its role
        self.links[name] = context
        self.linked[name].set()
        while (msg := await context.read()) is not grpc.aio.EOF:
            await self.dispatch.write(msg)

    async def on_dispatch(self, _: Any, context: Any) -> None:
        self.dispatch = context
        while (msg := await context.read()) is not grpc.aio.EOF:
            await self.linked[msg[:1]].wait()
            await self.links[msg[:1]].write(msg)


async def matchmaker(port: int) -> None:
    mm = Matchmaker()
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, {
        "Link": grpc.stream_stream_rpc_method_handler(mm.on_link),
        "Dispatch": grpc.stream_stream_rpc_method_handler(mm.on_dispatch),
    }),))  # fmt: skip
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    _ready()
    await server.wait_for_termination()


async def provider(mm_port: int, model: str = "") -> None:
    """Dials out, as a provider does. Each job goes to an engine thread and its answer comes
    back to the loop and out on the link: with `model` (a tiny-model directory), the first
    token of bench/gateway's request from the provider's own engine (the rest still decoding
    while the answer travels, as in the real path); without, the job itself, at once."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mm_port}") as channel:
        call = channel.stream_stream(f"/{SERVICE}/Link")()
        await call.write(b"engine" if model else b"bare")
        answers: asyncio.Queue[bytes] = asyncio.Queue()
        serve = await (_engine_serve(model, answers) if model else _thread_serve(answers))

        async def writer() -> None:
            while True:
                await call.write(await answers.get())

        task = asyncio.create_task(writer())
        _ready()
        while (msg := await call.read()) is not grpc.aio.EOF:
            serve(msg)
        task.cancel()


async def _thread_serve(answers: asyncio.Queue[bytes]) -> Callable[[bytes], None]:
    loop = asyncio.get_running_loop()
    jobs: queue.SimpleQueue[bytes] = queue.SimpleQueue()

    def engine() -> None:
        while True:
            job = jobs.get()
            loop.call_soon_threadsafe(answers.put_nowait, job)

    threading.Thread(target=engine, name="engine", daemon=True).start()
    return jobs.put


async def _engine_serve(model: str, answers: asyncio.Queue[bytes]) -> Callable[[bytes], None]:
    engine = await load_engine(EngineConfig((ModelSpec(TINY_ID, Path(model), slots=16),)))
    running: set[asyncio.Task[None]] = set()

    async def run(job: bytes) -> None:
        answered = False
        async with engine.generate(generation_request()) as stream:
            async for item in stream:
                if isinstance(item, Delta) and item.text and not answered:
                    answered = True
                    answers.put_nowait(job + item.text.encode())

    def serve(job: bytes) -> None:
        task = asyncio.create_task(run(job))
        running.add(task)
        task.add_done_callback(running.discard)

    return serve


class Authorizer(external_auth_pb2_grpc.AuthorizationServicer):  # type: ignore[misc]
    """Lets every request on, but one carrying `x-floor-deny` (how a test sees it is asked)."""

    async def Check(self, request: authz.CheckRequest, context: Any) -> authz.CheckResponse:
        if DENY in request.attributes.request.http.headers:
            return authz.CheckResponse(
                status=status_pb2.Status(code=7),
                denied_response=authz.DeniedHttpResponse(
                    status=http_status_pb2.HttpStatus(code=http_status_pb2.Forbidden)
                ),
            )
        return authz.CheckResponse(
            status=status_pb2.Status(code=0), ok_response=authz.OkHttpResponse()
        )


@dataclass(eq=False)
class Gateway:
    """A raw ASGI app: `/v1/floor/local` answers at once; `/v1/floor/relay` and `/engine` once
    a message has gone to their provider and back on the gateway's one matchmaker stream."""

    call: Any
    waiting: dict[bytes, asyncio.Future[str]] = field(default_factory=dict)
    sent: int = 0

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        content = LOCAL
        if (kind := ROUTES.get(scope["path"])) is not None:
            self.sent += 1
            ref = kind + self.sent.to_bytes(8, "big")
            answered = self.waiting[ref] = asyncio.get_running_loop().create_future()
            await self.call.write(ref)
            content = await answered
        chunk = {"choices": [{"index": 0, "delta": {"content": content}}]}
        body = b"data: " + json.dumps(chunk).encode() + b"\n\ndata: [DONE]\n\n"
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        await send({"type": "http.response.body", "body": body, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def read(self) -> None:
        while (msg := await self.call.read()) is not grpc.aio.EOF:  # ref (9 bytes) + text
            self.waiting.pop(msg[:9]).set_result(msg[9:].decode())


async def gateway(http_port: int, authz_port: int, mm_port: int) -> None:
    server = grpc.aio.server()
    external_auth_pb2_grpc.add_AuthorizationServicer_to_server(Authorizer(), server)
    server.add_insecure_port(f"127.0.0.1:{authz_port}")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mm_port}") as channel:
        app = Gateway(channel.stream_stream(f"/{SERVICE}/Dispatch")())
        reader = asyncio.create_task(app.read())
        http = uvicorn.Server(uvicorn.Config(
            app, host="127.0.0.1", port=http_port, lifespan="off", access_log=False,
            log_level="warning", http="httptools",
        ))  # fmt: skip
        serving = asyncio.create_task(http.serve())
        while not http.started:
            await asyncio.sleep(0.01)
        _ready()
        await serving
        reader.cancel()


def _ready() -> None:
    print("ready", flush=True)


@dataclass
class Floor:
    """The four processes and Envoy, started by `start` and stopped by their PIDs."""

    procs: list[subprocess.Popen[bytes]]
    edge: EnvoyEdge
    http_port: int

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @classmethod
    async def start(cls, workdir: Path, model: Path) -> Floor:
        workdir.mkdir(parents=True, exist_ok=True)
        mm, http, authz_port = free_port(), free_port(), free_port()
        procs: list[subprocess.Popen[bytes]] = []
        try:
            procs.append(await _spawn("matchmaker", mm))
            procs.append(await _spawn("provider", mm))
            procs.append(await _spawn("provider", mm, model))
            procs.append(await _spawn("gateway", http, authz_port, mm))
            edge = await EnvoyEdge.start(workdir, gateway_port=http, authz_port=authz_port)
        except BaseException:
            _stop(procs)
            raise
        return cls(procs, edge, http)

    async def close(self) -> None:
        await self.edge.stop()
        _stop(self.procs)


async def _spawn(role: str, *args: int | Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "bench._floor", role, *map(str, args)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 30)
    except BaseException:
        _stop([proc])
        raise
    if line.strip() != b"ready":
        _stop([proc])
        raise RuntimeError(f"floor {role} did not start")
    return proc


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in reversed(procs):
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    role, args = sys.argv[1], sys.argv[2:]
    if role == "provider":
        uvloop.run(provider(int(args[0]), *args[1:]))
        return
    roles: dict[str, Callable[..., Coroutine[Any, Any, None]]] = {
        "matchmaker": matchmaker, "gateway": gateway,
    }  # fmt: skip
    uvloop.run(roles[role](*map(int, args)))


if __name__ == "__main__":
    main()
