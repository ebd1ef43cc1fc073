"""`python -m services.matchmaker` serves health and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.conftest import REPO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_the_service_runs_until_sigterm_then_drains(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "COCORE_MATCHMAKER_GRPC_PORT": str(port),
        "COCORE_MATCHMAKER_METRICS_PORT": "off",
        "COCORE_MATCHMAKER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'mm.sqlite'}",
        "COCORE_MATCHMAKER_REPLICA_ID": "proc-test",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.matchmaker", cwd=REPO, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            request = health_pb2.HealthCheckRequest(service="cocore.matchmaker.v1.Matchmaker")
            reply = await stub.Check(request, wait_for_ready=True, timeout=30)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.stderr is not None
    assert b"draining" in await proc.stderr.read()
