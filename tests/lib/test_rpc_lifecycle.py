"""SIGTERM drains a real server process: in-flight streams finish within the grace period."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2

from cocore.proto.testing.v1 import echo_pb2, echo_pb2_grpc
from cocore.rpc import ServerConfig, run_until_signal, start_server
from tests.fixtures.echo import register

REPO = Path(__file__).resolve().parents[2]


@asynccontextmanager
async def echo_process(
    env: Mapping[str, str],
) -> AsyncIterator[tuple[asyncio.subprocess.Process, int]]:
    """Start `python -m tests.fixtures.echo`; yield it with its port; kill it if still alive."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fixtures.echo",
        cwd=REPO,
        env={**os.environ, "ECHO_METRICS_PORT": "off", **env},
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=30)
        assert line.startswith(b"port="), line
        yield proc, int(line.removeprefix(b"port="))
    finally:
        if proc.returncode is None:
            proc.kill()  # only the process this fixture started
            await proc.wait()


async def test_sigterm_lets_an_in_flight_stream_finish() -> None:
    async with echo_process({"ECHO_GRACE_S": "10"}) as (proc, port):
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = echo_pb2_grpc.EchoStub(channel).Count(
                echo_pb2.CountRequest(count=8, interval_ms=100)
            )
            first = await call.read()
            proc.send_signal(signal.SIGTERM)
            rest = await _read_all(call)
            assert [first.index, *(r.index for r in rest)] == list(range(8))
            assert await call.code() == grpc.StatusCode.OK
        assert await asyncio.wait_for(proc.wait(), timeout=10) == 0


async def test_grace_period_bounds_the_drain() -> None:
    async with echo_process({"ECHO_GRACE_S": "0.5"}) as (proc, port):
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = echo_pb2_grpc.EchoStub(channel).Count(
                echo_pb2.CountRequest(count=100, interval_ms=100)
            )
            await call.read()
            proc.send_signal(signal.SIGTERM)
            received: list[echo_pb2.CountResponse] = []
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await _read_all(call, into=received)
        # Cut off after about 0.5 s of the ~10 s stream, and the process still exits cleanly.
        assert len(received) < 99
        assert caught.value.code() in {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED}
        assert await asyncio.wait_for(proc.wait(), timeout=10) == 0


async def _read_all(
    call: grpc.aio.UnaryStreamCall, into: list[echo_pb2.CountResponse] | None = None
) -> list[echo_pb2.CountResponse]:
    replies = [] if into is None else into
    while (reply := await call.read()) is not grpc.aio.EOF:
        replies.append(reply)
    return replies


async def test_stop_event_takes_the_signal_path_in_process() -> None:
    running = await start_server(ServerConfig(metrics_port=None), register)
    stop = asyncio.Event()
    task = asyncio.create_task(run_until_signal(running, grace_s=1, stop=stop, signals=()))
    await asyncio.sleep(0)
    assert not task.done()
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    health = running.health
    reply = await health.Check(health_pb2.HealthCheckRequest(service=""), None)
    assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING


async def test_returns_when_the_server_is_stopped_elsewhere() -> None:
    running = await start_server(ServerConfig(metrics_port=None), register)
    task = asyncio.create_task(run_until_signal(running, signals=()))
    await running.stop(grace_s=0)
    await asyncio.wait_for(task, timeout=5)
