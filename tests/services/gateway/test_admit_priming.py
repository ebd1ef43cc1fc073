"""The hold is taken while the job starts: whichever half fails, the other half goes back
(fakes for the exchange and the job: the ordering is the logic under test)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from services.gateway.errors import InsufficientBalance, NoProviders
from services.gateway.exchange_client import Hold
from services.gateway.paid import PaidPath
from services.gateway.stages import Stopwatch


class Exchange:
    def __init__(self, delay_s: float, refuse: bool) -> None:
        self.delay_s, self.refuse = delay_s, refuse
        self.released: list[str] = []

    async def admit(self, **_: Any) -> Hold:
        await asyncio.sleep(self.delay_s)
        if self.refuse:
            raise InsufficientBalance("short")
        return Hold("h1", 10)

    async def release(self, hold_id: str) -> bool:
        self.released.append(hold_id)
        return True


class Job:
    def __init__(self, delay_s: float, fail: bool) -> None:
        self.delay_s, self.fail = delay_s, fail
        self.closed: list[str] = []
        self.cancelled = False
        self.records = SimpleNamespace(ceiling=10, key="k", job=SimpleNamespace(uri="at://j"))
        self.caller = SimpleNamespace(did="did:plc:aaaaaaaaaaaaaaaaaaaaaaaa")
        self.policy = SimpleNamespace(currency="CC")
        self.req = SimpleNamespace(routing=SimpleNamespace(pro_bono=False))
        self.watch = Stopwatch()

    async def prime(self) -> None:
        try:
            await asyncio.sleep(self.delay_s)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        if self.fail:
            raise NoProviders("none")

    async def close(self, outcome: str) -> None:
        self.closed.append(outcome)


def paid(exchange: Exchange) -> PaidPath:
    path = object.__new__(PaidPath)
    path.exchange, path.hold_ttl_s = exchange, 60  # type: ignore[assignment]
    return path


async def test_both_halves_succeed_and_the_hold_is_the_answer() -> None:
    exchange, job = Exchange(0, refuse=False), Job(0.01, fail=False)
    assert await paid(exchange)._admit_while_priming(job) == Hold("h1", 10)  # type: ignore[arg-type]
    assert exchange.released == [] and job.closed == []


async def test_a_refused_hold_stops_a_job_still_starting() -> None:
    exchange, job = Exchange(0, refuse=True), Job(5, fail=False)
    with pytest.raises(InsufficientBalance):
        await asyncio.wait_for(paid(exchange)._admit_while_priming(job), 1)  # type: ignore[arg-type]
    assert job.cancelled and exchange.released == []


async def test_a_hold_refused_after_the_job_primed_ends_the_job() -> None:
    exchange, job = Exchange(0.05, refuse=True), Job(0, fail=False)
    with pytest.raises(InsufficientBalance):
        await paid(exchange)._admit_while_priming(job)  # type: ignore[arg-type]
    assert job.closed == ["refused"] and exchange.released == []


async def test_a_job_that_cannot_start_gives_its_hold_back() -> None:
    exchange, job = Exchange(0.02, refuse=False), Job(0, fail=True)
    with pytest.raises(NoProviders):
        await paid(exchange)._admit_while_priming(job)  # type: ignore[arg-type]
    assert exchange.released == ["h1"] and job.closed == []


async def test_when_both_fail_the_more_fundamental_error_is_the_answer() -> None:
    exchange, job = Exchange(0, refuse=True), Job(0, fail=True)
    with pytest.raises(InsufficientBalance):
        await paid(exchange)._admit_while_priming(job)  # type: ignore[arg-type]
    assert exchange.released == []
