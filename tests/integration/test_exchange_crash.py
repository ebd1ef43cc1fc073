"""The crash test: the real service, killed with SIGKILL between the steps of a settlement,
restarted, reconciled. Nothing is lost and nothing is doubled — in the ledger or on the PDS."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cocore.atproto import AtprotoClient
from cocore.canonical import canonicalize
from cocore.lexicon import ids
from cocore.proto.common.v1 import common_pb2
from cocore.proto.exchange.v1 import exchange_pb2 as pb
from cocore.proto.exchange.v1 import exchange_pb2_grpc
from cocore.storage import sqlite_url
from services.exchange.config import DEV_OPERATOR_TOKEN, DEV_SERVICE_TOKEN
from tests.conftest import REPO
from tests.fixtures.atproto import Account, AtprotoStack
from tests.services.exchange._factory import Provider, ReceiptFactory

pytestmark = [pytest.mark.pds, pytest.mark.slow]
SERVICE = [("authorization", f"Bearer {DEV_SERVICE_TOKEN}")]
OPERATOR = [("authorization", f"Bearer {DEV_OPERATOR_TOKEN}")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Service:
    """`python -m services.exchange` in a subprocess, with its state in one folder."""

    def __init__(self, stack: AtprotoStack, state: Path) -> None:
        handle = stack.new_handle()
        self.port = _free_port()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("COCORE_EXCHANGE_")},
            "COCORE_EXCHANGE_DB_URL": sqlite_url(state / "exchange.db"),
            "COCORE_EXCHANGE_KEY_DIR": str(state / "keys"),
            "COCORE_EXCHANGE_PDS_URL": stack.pds_url, "COCORE_EXCHANGE_PLC_URL": stack.plc_url,
            "COCORE_EXCHANGE_HANDLE": handle, "COCORE_EXCHANGE_EMAIL": f"{handle}@example.com",
            "COCORE_EXCHANGE_GRPC_PORT": str(self.port), "COCORE_EXCHANGE_METRICS_PORT": "off",
            "COCORE_EXCHANGE_FIREHOSES": "off", "COCORE_EXCHANGE_GRACE_S": "1",
        }  # fmt: skip
        self.log = state / "service.log"
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self, crash_at: str | None = None) -> None:
        env = dict(self.env)
        if crash_at:
            env["COCORE_EXCHANGE_CRASH_AT"] = crash_at
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "services.exchange"], cwd=REPO, env=env,
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        await self._wait_serving()

    async def _wait_serving(self) -> None:
        async with grpc.aio.insecure_channel(self.address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            for _ in range(300):
                assert self.proc is not None and self.proc.poll() is None, self.log.read_text()
                try:
                    reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.aio.AioRpcError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"the exchange did not start:\n{self.log.read_text()}")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def wait_killed(self) -> None:
        assert self.proc is not None
        for _ in range(200):
            if self.proc.poll() is not None:
                assert self.proc.returncode == -signal.SIGKILL, self.log.read_text()
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the exchange did not die at its crash point")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module")
def service(
    atproto_stack: AtprotoStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    s = Service(atproto_stack, tmp_path_factory.mktemp("crash"))
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
async def people(atproto_stack: AtprotoStack) -> AsyncIterator[tuple[Account, Account]]:
    yield await atproto_stack.create_account(), await atproto_stack.create_account()


async def _exchange_did(service: Service) -> str:
    async with grpc.aio.insecure_channel(service.address) as channel:
        policy = await exchange_pb2_grpc.ExchangeStub(channel).GetPolicy(
            pb.GetPolicyRequest(), metadata=OPERATOR
        )
    return str(policy.exchange_did)


async def _settle(service: Service, bundle: object) -> pb.SettleResponse:
    from services.exchange.verification import Bundle

    assert isinstance(bundle, Bundle)
    request = pb.SettleRequest(
        receipt=common_pb2.Record(uri=str(bundle.receipt_uri), record=canonicalize(bundle.receipt)),
        job=common_pb2.Record(record=canonicalize(bundle.job)),
        authorization=common_pb2.Record(record=canonicalize(bundle.authorization)),
        attestation=common_pb2.Record(record=canonicalize(bundle.attestation)),
    )
    async with grpc.aio.insecure_channel(service.address) as channel:
        reply: pb.SettleResponse = await exchange_pb2_grpc.ExchangeStub(channel).Settle(
            request, metadata=SERVICE, timeout=30
        )
    return reply


async def _reconcile(service: Service) -> pb.ReconcileResponse:
    async with grpc.aio.insecure_channel(service.address) as channel:
        stub = exchange_pb2_grpc.ExchangeStub(channel)
        for _ in range(100):  # the publisher catches up in the background
            report: pb.ReconcileResponse = await stub.Reconcile(
                pb.ReconcileRequest(deep=True), metadata=OPERATOR
            )
            if report.stats["outbox_pending"] == 0:
                return report
            await asyncio.sleep(0.2)
    return report


async def _records_on_pds(stack: AtprotoStack, did: str, receipt_uri: str) -> list[str]:
    client = AtprotoClient.anonymous(stack.pds_url)
    try:
        return [
            str(view.uri)
            async for view in client.iter_records(did, ids.COMPUTE_SETTLEMENT)  # type: ignore[arg-type]
            if view.value["receipt"]["uri"] == receipt_uri
        ]
    finally:
        await client.aclose()


@pytest.mark.parametrize("crash_at", ["settle.before_commit", "settle.after_commit",
                                      "outbox.after_put"])  # fmt: skip
async def test_killed_mid_settlement_loses_and_doubles_nothing(
    service: Service, people: tuple[Account, Account], atproto_stack: AtprotoStack, crash_at: str
) -> None:
    requester, provider_account = people
    await service.start(crash_at=crash_at)
    exchange = await _exchange_did(service)
    # A seed per scenario: the authorization nonces must differ from the other scenarios'.
    factory = ReceiptFactory(exchange, datetime.now(UTC), rng=random.Random(crash_at))  # type: ignore[arg-type]
    provider: Provider = factory.provider(did=provider_account.client.did)
    bundle = factory.bundle(requester.client.did, provider)

    if crash_at == "outbox.after_put":
        first = await _settle(service, bundle)  # committed and answered; the put kills it
        assert first.result == pb.SETTLE_RESULT_SETTLED
    else:
        with pytest.raises(grpc.aio.AioRpcError) as died:
            await _settle(service, bundle)  # the process dies before it can answer
        assert died.value.code() == grpc.StatusCode.UNAVAILABLE
    await service.wait_killed()

    await service.start()  # restarted without the crash point
    try:
        again = await _settle(service, bundle)
        expected = pb.SETTLE_RESULT_SETTLED if crash_at == "settle.before_commit" else (
            pb.SETTLE_RESULT_ALREADY_SETTLED
        )  # fmt: skip
        assert again.result == expected, again
        report = await _reconcile(service)
        assert report.ok, list(report.drifts)
        assert report.stats["outbox_pending"] == 0
        on_pds = await _records_on_pds(atproto_stack, exchange, str(bundle.receipt_uri))
        assert on_pds == [again.settlement.uri]  # published, exactly once
    finally:
        service.stop()


async def _admit(service: Service, did: str, amount: int, key: str, job_uri: str = "") -> str:
    request = pb.AdmitRequest(
        requester_did=did, price_ceiling=common_pb2.Money(amount=amount, currency="CC"),
        idempotency_key=key, job_uri=job_uri, ttl_seconds=600,
    )  # fmt: skip
    async with grpc.aio.insecure_channel(service.address) as channel:
        reply = await exchange_pb2_grpc.ExchangeStub(channel).Admit(request, metadata=SERVICE)
    return str(reply.hold_id)


async def _balance(service: Service, did: str) -> pb.GetBalanceResponse:
    async with grpc.aio.insecure_channel(service.address) as channel:
        reply: pb.GetBalanceResponse = await exchange_pb2_grpc.ExchangeStub(channel).GetBalance(
            pb.GetBalanceRequest(did=did), metadata=OPERATOR
        )
    return reply


async def test_a_hold_answered_from_memory_and_lost_in_a_crash_only_defers_to_the_balance(
    service: Service, people: tuple[Account, Account], atproto_stack: AtprotoStack
) -> None:
    """Admit answers a known member before the hold commits; the process dies before that
    batch. After the restart there is no hold, and the job's receipt settles against the
    balance, exactly once, with books that reconcile."""
    requester, provider_account = people
    await service.start(crash_at="admit.before_commit")
    exchange = await _exchange_did(service)
    factory = ReceiptFactory(exchange, datetime.now(UTC), rng=random.Random("admit"))  # type: ignore[arg-type]
    provider: Provider = factory.provider(did=provider_account.client.did)
    bundle = factory.bundle(requester.client.did, provider, tokens_out=300)
    did = str(requester.client.did)
    assert await _admit(service, did, 0, "warm") == ""  # a member now; no hold, no crash
    before = await _balance(service, did)
    hold = await _admit(service, did, 50_000, "job", bundle.receipt["job"]["uri"])
    assert hold, "answered (from memory) before the batch that died"
    await service.wait_killed()

    await service.start()
    try:
        after = await _balance(service, did)
        assert (after.balance, after.held) == (before.balance, before.held), "the hold is gone"
        settled = await _settle(service, bundle)
        assert settled.result == pb.SETTLE_RESULT_SETTLED, settled
        assert settled.amount == 300
        charged = await _balance(service, did)
        assert (charged.balance, charged.held) == (after.balance - 300, after.held)
        report = await _reconcile(service)
        assert report.ok, list(report.drifts)
    finally:
        service.stop()
