"""How the gateway ends a Dispatch call, against a real grpc.aio server on 127.0.0.1:0 whose
Dispatch handler reports how it ended: a job the caller leaves early is cancelled at once (the
provider must stop), a job that ran to its final event is left to end by itself (no cancel
on the answer's way out, and the matchmaker sees it complete)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from cocore.proto.matchmaker.v1 import matchmaker_pb2 as pb
from cocore.proto.matchmaker.v1 import matchmaker_pb2_grpc
from cocore.rpc import ServerConfig, service_name, start_server
from services.gateway import matchmaker_client
from services.gateway.matchmaker_client import Attempt, Chunks, Completed, MatchmakerClient
from tests.services.gateway.test_matchmaker_run import CHUNK, DONE, SPEC, STARTED

GRACE_S = 30.0  # far longer than any wait below: a deferred cancel would fail the first test


class Matchmaker(matchmaker_pb2_grpc.MatchmakerServicer):
    """Streams `events`, then holds the call open `linger_s` (as a real handler's clean-up
    does before its status goes out) and records how the handler ended."""

    def __init__(self, events: list[pb.DispatchEvent], linger_s: float) -> None:
        self.events, self.linger_s = events, linger_s
        self.ended: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def Dispatch(self, request: Any, context: Any) -> AsyncIterator[pb.DispatchEvent]:
        try:
            for event in self.events:
                yield event
            await asyncio.sleep(self.linger_s)
        except asyncio.CancelledError:
            self.ended.set_result("cancelled")
            raise
        self.ended.set_result("ended")


async def _served(servicer: Matchmaker) -> Any:
    def register(server: grpc.aio.Server) -> list[str]:
        matchmaker_pb2_grpc.add_MatchmakerServicer_to_server(servicer, server)
        return [service_name(pb, "Matchmaker")]

    return await start_server(ServerConfig(grace_s=0), register)


@pytest.fixture(autouse=True)
def _long_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matchmaker_client, "ENDED_CALL_GRACE_S", GRACE_S)


async def _read_until(servicer: Matchmaker, last: type) -> str:
    async with await _served(servicer) as server:
        client = MatchmakerClient(server.address, "token")
        try:
            events = client.dispatch(SPEC, [Attempt("L", b"sealed", "eph", "x25519")])
            async for event in events:
                if isinstance(event, last):
                    break
            await events.aclose()  # the caller is done with the job
            return await asyncio.wait_for(asyncio.shield(servicer.ended), 10)
        finally:
            await client.aclose()


async def test_a_job_read_to_its_final_event_is_not_cancelled() -> None:
    servicer = Matchmaker([STARTED, CHUNK, DONE], linger_s=0.3)
    assert await _read_until(servicer, Completed) == "ended"


async def test_a_job_the_caller_leaves_early_is_cancelled_at_once() -> None:
    servicer = Matchmaker([STARTED, CHUNK], linger_s=GRACE_S)
    assert await _read_until(servicer, Chunks) == "cancelled"
