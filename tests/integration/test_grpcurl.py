"""What an operator sees: grpcurl (via server reflection) against a real `start_server` server."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cocore.rpc import RunningServer, ServerConfig, start_server
from tests.fixtures.echo import register

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def grpcurl() -> str:
    found = shutil.which("grpcurl", path=str(REPO / ".venv" / "bin")) or shutil.which("grpcurl")
    if found is None:
        pytest.fail("grpcurl is not installed: run `make grpcurl`")
    return found


@pytest.fixture(scope="module")
async def running() -> AsyncIterator[RunningServer]:
    async with await start_server(ServerConfig(metrics_port=None, grace_s=1), register) as server:
        yield server


async def run_grpcurl(
    grpcurl: str, running: RunningServer, *command: str, data: str | None = None
) -> tuple[int, str, str]:
    """`grpcurl -plaintext [-d data] <server> <command…>`; returns (exit code, stdout, stderr)."""
    flags = ["-plaintext", "-max-time", "10", *(["-d", data] if data is not None else [])]
    # A subprocess on the test's loop, so the in-process server keeps answering meanwhile.
    proc = await asyncio.create_subprocess_exec(
        grpcurl,
        *flags,
        running.address,
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_list_shows_echo_health_and_reflection(grpcurl: str, running: RunningServer) -> None:
    code, out, err = await run_grpcurl(grpcurl, running, "list")
    assert code == 0, err
    assert set(out.split()) == {
        "cocore.testing.v1.Echo",
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    }


async def test_describe(grpcurl: str, running: RunningServer) -> None:
    code, out, err = await run_grpcurl(grpcurl, running, "describe", "cocore.testing.v1.Echo")
    assert code == 0, err
    assert "service Echo {" in out
    assert "rpc Count ( .cocore.testing.v1.CountRequest ) returns ( stream" in out

    code, out, err = await run_grpcurl(
        grpcurl, running, "describe", ".cocore.testing.v1.FailRequest"
    )
    assert code == 0, err
    assert "map<string, string> details = 4;" in out


async def test_unary_call(grpcurl: str, running: RunningServer) -> None:
    code, out, err = await run_grpcurl(
        grpcurl, running, "cocore.testing.v1.Echo/Say", data='{"text": "hello"}'
    )
    assert code == 0, err
    assert json.loads(out) == {"text": "hello"}


async def test_server_streaming_call(grpcurl: str, running: RunningServer) -> None:
    code, out, err = await run_grpcurl(
        grpcurl, running, "cocore.testing.v1.Echo/Count", data='{"count": 3}'
    )
    assert code == 0, err
    # grpcurl prints one JSON object per message; proto3 JSON leaves index 0 out.
    decoder, rest, replies = json.JSONDecoder(), out.strip(), []
    while rest:
        reply, end = decoder.raw_decode(rest)
        replies.append(reply)
        rest = rest[end:].strip()
    assert replies == [{}, {"index": 1}, {"index": 2}]


async def test_fail_shows_status_code_and_message(grpcurl: str, running: RunningServer) -> None:
    request = '{"group": "FailedPrecondition", "code": "insufficient_balance", "message": "short"}'
    code, _, err = await run_grpcurl(grpcurl, running, "cocore.testing.v1.Echo/Fail", data=request)
    assert code != 0
    assert "Code: FailedPrecondition" in err
    assert "Message: short" in err
    # The ErrorInfo detail, resolved through reflection, carries the stable code.
    assert '"reason":"insufficient_balance"' in err


async def test_health_check(grpcurl: str, running: RunningServer) -> None:
    code, out, err = await run_grpcurl(grpcurl, running, "grpc.health.v1.Health/Check")
    assert code == 0, err
    assert json.loads(out) == {"status": "SERVING"}
