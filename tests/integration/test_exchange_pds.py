"""The exchange against the real PLC + PDS and over real gRPC: records really published, the
published settlement accepted by `cocore verify settlement`, bad receipts refused by code."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import select

from cocore.atproto import (
    AtprotoClient,
    IdentityResolver,
    exchange_settlement_key,
    get_service_auth,
)
from cocore.canonical import canonicalize
from cocore.crypto import SigningKey
from cocore.errors import FailedPrecondition, PermissionDenied, Unauthenticated
from cocore.lexicon import ids
from cocore.proto.common.v1 import common_pb2
from cocore.proto.exchange.v1 import exchange_pb2 as pb
from cocore.proto.exchange.v1 import exchange_pb2_grpc
from cocore.rpc import error_from_rpc
from cocore.syntax import parse_at_uri, parse_nsid
from services.exchange import db
from services.exchange.config import DEV_OPERATOR_TOKEN, DEV_SERVICE_TOKEN
from services.exchange.policy import PolicyTerms
from services.exchange.server import App, build
from services.exchange.settlement import Settled
from services.exchange.sweeps import retry_unsettled
from services.exchange.verification import Bundle
from tests.conftest import REPO
from tests.fixtures.atproto import Account, AtprotoStack
from tests.integration.test_exchange_identity import exchange_config
from tests.services.exchange._factory import Provider, ReceiptFactory, StoredRecord, tampered

pytestmark = pytest.mark.pds
SERVICE = [("authorization", f"Bearer {DEV_SERVICE_TOKEN}")]
OPERATOR = [("authorization", f"Bearer {DEV_OPERATOR_TOKEN}")]


class Stage:
    """A running exchange, two members with PDS accounts, and a factory of their records."""

    def __init__(
        self, app: App, requester: Account, provider: Account, stack: AtprotoStack
    ) -> None:
        self.app, self.stack = app, stack
        self.requester, self.provider_account = requester, provider
        self.channel = grpc.aio.insecure_channel(app.running.address)
        self.stub = exchange_pb2_grpc.ExchangeStub(self.channel)
        self.factory = ReceiptFactory(app.exchange.did, datetime.now(UTC))
        self.provider: Provider = self.factory.provider(did=provider.client.did)

    async def publish(self, client: AtprotoClient, stored: StoredRecord) -> None:
        uri = stored.uri
        result = await client.put_record(uri.collection, uri.rkey, stored.record)
        assert (str(result.uri), str(result.cid)) == (str(uri), stored.cid)  # ours = the PDS's

    async def publish_bundle(self, bundle: Bundle, requester: Account | None = None) -> None:
        job_ref = bundle.receipt["job"]
        auth_ref = bundle.job["paymentAuthorization"]
        owner = (requester or self.requester).client
        await self.publish(owner, StoredRecord(parse_at_uri(auth_ref["uri"]), bundle.authorization))
        await self.publish(owner, StoredRecord(parse_at_uri(job_ref["uri"]), bundle.job))
        await self.publish(self.provider_account.client,
                           StoredRecord(bundle.receipt_uri, bundle.receipt))  # fmt: skip

    async def settle(self, bundle: Bundle, *, supply: bool = False) -> pb.SettleResponse:
        request = pb.SettleRequest(receipt=_record(str(bundle.receipt_uri), bundle.receipt),
                                   hold_id=bundle.hold_hint or "")  # fmt: skip
        if supply:
            request.job.CopyFrom(_record("", bundle.job))
            request.authorization.CopyFrom(_record("", bundle.authorization))
            request.attestation.CopyFrom(_record("", bundle.attestation))
        response: pb.SettleResponse = await self.stub.Settle(request, metadata=SERVICE)
        return response

    async def drain_outbox(self) -> None:
        await _drain(self.app)


def _record(uri: str, record: dict[str, Any]) -> common_pb2.Record:
    return common_pb2.Record(uri=uri, record=canonicalize(record))


@pytest.fixture(scope="module")
async def stage(
    atproto_stack: AtprotoStack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stage]:
    tmp = tmp_path_factory.mktemp("exchange")
    config = exchange_config(
        atproto_stack,
        tmp,
        firehoses=(atproto_stack.pds_url,),
        terms=PolicyTerms(terms_uri="https://cocore.test/terms", terms_version="v1"),
    )
    app = await build(config)
    requester = await atproto_stack.create_account()
    provider = await atproto_stack.create_account()
    s = Stage(app, requester, provider, atproto_stack)
    await s.publish(provider.client, s.provider.attestation)
    try:
        yield s
    finally:
        await s.channel.close()
        await app.stop()


async def test_a_settlement_is_published_and_verifies_offline(stage: Stage) -> None:
    s, requester = stage, stage.requester.client.did
    bundle = s.factory.bundle(requester, s.provider, tokens_in=40, tokens_out=59)
    admitted = await s.stub.Admit(pb.AdmitRequest(
        requester_did=requester, price_ceiling={"amount": 100_000, "currency": "CC"},
        idempotency_key="job-1", job_uri=bundle.receipt["job"]["uri"], ttl_seconds=600,
    ), metadata=SERVICE)  # fmt: skip
    assert admitted.granted and admitted.hold_id
    await s.publish_bundle(bundle)
    # The firehose source sees the receipt too; whichever comes first settles it, once, and
    # captures the job's hold (found by the job's URI).
    settled = await s.settle(replace(bundle, hold_hint=admitted.hold_id))
    assert settled.result in (pb.SETTLE_RESULT_SETTLED, pb.SETTLE_RESULT_ALREADY_SETTLED)
    assert (settled.amount, settled.fee, settled.payout) == (99, 4, 95)
    assert settled.hold_id == admitted.hold_id
    again = await s.settle(bundle)
    assert again.result == pb.SETTLE_RESULT_ALREADY_SETTLED
    assert again.settlement == settled.settlement
    balance = await s.stub.GetBalance(pb.GetBalanceRequest(did=requester), metadata=OPERATOR)
    assert (balance.balance, balance.held) == (1_000_000 - 99, 0)

    await s.drain_outbox()
    uri = parse_at_uri(settled.settlement.uri)
    view = await AtprotoClient.anonymous(s.app.config.pds_url).get_record(
        uri.repo, uri.collection, uri.rkey
    )
    assert str(view.cid) == settled.settlement.cid
    async with IdentityResolver(s.app.config.plc_url) as resolver:
        key = exchange_settlement_key(await resolver.resolve_did(uri.repo, fresh=True))
    assert key is not None
    verdict = _cocore_verify_settlement({
        "settlement": view.value, "receipt": bundle.receipt,
        "authorization": bundle.authorization, "exchangeKey": key.to_jwk(),
        "settlementUri": settled.settlement.uri,
    })  # fmt: skip
    assert verdict == {"ok": True, "findings": []}
    assert view.value["policy"]["uri"] == s.app.exchange.policies.current.ref.uri


def _cocore_verify_settlement(bundle: dict[str, Any]) -> dict[str, Any]:
    cocore = Path(sys.executable).with_name("cocore")
    done = subprocess.run(
        [str(cocore), "verify", "settlement", "-"], input=json.dumps(bundle),
        capture_output=True, text=True, timeout=60, check=False, cwd=REPO,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


async def test_bad_receipts_are_refused_with_their_finding_codes(stage: Stage) -> None:
    s, requester = stage, stage.requester.client.did
    good = s.factory.bundle(requester, s.provider)
    await s.publish_bundle(good)
    forger = s.factory.provider(did=s.provider.did, key=SigningKey.generate())
    forged = s.factory.bundle(requester, forger)  # signed by a key the attestation does not hold
    receipt = {**forged.receipt, "attestation": s.provider.attestation.ref}
    forged = Bundle(forged.receipt_uri, receipt, forged.job, forged.authorization,
                    s.provider.attestation.record)  # fmt: skip
    over = s.factory.bundle(requester, s.provider, tokens_out=150_000, job_ceiling=100_000)
    cases = {
        "tampered": (tampered(good, price={"amount": 9_000, "currency": "CC"}),
                     {"signature-invalid", "price-rate-mismatch"}),
        "forged": (forged, {"signature-invalid", "attestation-cid-mismatch"}),
        "over-ceiling": (over, {"price-over-job-ceiling", "price-over-auth-ceiling",
                                "tokens-over-job-ceiling"}),
    }  # fmt: skip
    for name, (bundle, codes) in cases.items():
        refused = await s.settle(bundle, supply=True)
        assert refused.result == pb.SETTLE_RESULT_REFUSED, name
        got = {f.code for f in refused.findings}
        assert codes & got, (name, got)

    # Settled by this call or already by the firehose source, which also saw it: once either way.
    assert (await s.settle(good)).result in (pb.SETTLE_RESULT_SETTLED,
                                             pb.SETTLE_RESULT_ALREADY_SETTLED)  # fmt: skip
    # Replayed: the same job and single-use authorization under a receipt of a new URI.
    job = StoredRecord(parse_at_uri(good.receipt["job"]["uri"]), good.job)
    replay = s.factory.receipt(s.provider, job, price=100, tokens=(40, 60))
    replayed = Bundle(replay.uri, replay.record, good.job, good.authorization,
                      good.attestation)  # fmt: skip
    refused = await s.settle(replayed, supply=True)
    assert refused.result == pb.SETTLE_RESULT_REFUSED
    assert [f.code for f in refused.findings] == ["authorization-already-consumed"]

    unsettled = await s.stub.ListUnsettled(pb.ListUnsettledRequest(), metadata=OPERATOR)
    assert {str(replay.uri)} <= {r.receipt_uri for r in unsettled.receipts}


async def test_a_receipt_seen_only_on_the_firehose_is_settled(stage: Stage) -> None:
    s, requester = stage, stage.requester.client.did
    bundle = s.factory.bundle(requester, s.provider, tokens_in=7, tokens_out=13)
    await s.publish_bundle(bundle)  # nobody calls Settle: the firehose source must find it
    for _ in range(150):
        async with s.app.exchange.db.session() as session:
            found = (await session.execute(select(db.SETTLEMENTS.c.uri).where(
                db.SETTLEMENTS.c.receipt_uri == str(bundle.receipt_uri)
            ))).first()  # fmt: skip
        if found:
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError("the firehose receipt was never settled")
    again = await s.settle(bundle)
    assert again.result == pb.SETTLE_RESULT_ALREADY_SETTLED


async def test_owners_read_their_own_balance_only(stage: Stage) -> None:
    s = stage
    lxm = parse_nsid("cocore.exchange.v1.Exchange.GetBalance")
    token = await get_service_auth(s.requester.client, s.app.exchange.did, lxm)
    owner = [("authorization", f"Bearer {token}")]
    mine = await s.stub.GetBalance(pb.GetBalanceRequest(did=s.requester.client.did),
                                   metadata=owner)  # fmt: skip
    assert mine.member and mine.currency == "CC"
    with pytest.raises(grpc.aio.AioRpcError) as theirs:
        await s.stub.GetBalance(pb.GetBalanceRequest(did=s.provider.did), metadata=owner)
    assert isinstance(error_from_rpc(theirs.value), PermissionDenied)
    with pytest.raises(grpc.aio.AioRpcError) as anonymous:
        await s.stub.GetBalance(pb.GetBalanceRequest(did=s.provider.did))
    assert isinstance(error_from_rpc(anonymous.value), Unauthenticated)
    stranger = "did:plc:strangerstrangerstranger"
    unknown = await s.stub.GetBalance(pb.GetBalanceRequest(did=stranger), metadata=OPERATOR)
    assert (unknown.member, unknown.balance) == (False, 0)  # and nothing was created:
    events = await s.stub.ListEvents(pb.ListEventsRequest(did=stranger), metadata=OPERATOR)
    assert list(events.events) == []


async def test_terms_acceptance_patronage_dispute_and_a_deep_reconcile(stage: Stage) -> None:
    s = stage
    signed = await s.stub.SignTermsAcceptance(
        pb.SignTermsAcceptanceRequest(user_did=s.requester.client.did), metadata=SERVICE
    )
    record = json.loads(signed.acceptance.record)
    assert record["termsVersion"] == "v1" and record["sig"]
    written = await s.requester.client.create_record(ids.COMPUTE_TERMS_ACCEPTANCE, record)
    assert str(written.cid) == signed.acceptance.cid

    bundle = s.factory.bundle(s.requester.client.did, s.provider)
    await s.publish_bundle(bundle)
    settled = await s.settle(bundle)
    assert settled.amount > 0
    opened = await s.stub.OpenDispute(pb.OpenDisputeRequest(
        settlement_uri=settled.settlement.uri, raised_by=s.requester.client.did,
        category="quality-failure", detail="the answer was cut short",
    ), metadata=OPERATOR)  # fmt: skip
    resolved = await s.stub.ResolveDispute(pb.ResolveDisputeRequest(
        dispute_uri=opened.dispute.uri, verdict="refund-full", rationale="confirmed",
    ), metadata=OPERATOR)  # fmt: skip
    assert resolved.dispute.uri == opened.dispute.uri
    refund = json.loads(resolved.refund_settlement.record)
    assert refund["status"] == "refunded" and refund["refundOf"]["uri"] == settled.settlement.uri
    assert refund["amountCharged"]["amount"] == settled.amount
    with pytest.raises(grpc.aio.AioRpcError) as twice:
        await s.stub.ResolveDispute(pb.ResolveDisputeRequest(
            dispute_uri=opened.dispute.uri, verdict="refund-full"), metadata=OPERATOR)  # fmt: skip
    assert isinstance(error_from_rpc(twice.value), FailedPrecondition)

    await s.drain_outbox()
    report = await s.stub.Reconcile(pb.ReconcileRequest(deep=True), metadata=OPERATOR)
    assert report.ok, list(report.drifts)
    assert report.stats["refunds"] >= 1 and report.stats["outbox_pending"] == 0


async def _grpcurl(
    stage: Stage, *command: str, bearer: str | None = None, data: str | None = None
) -> tuple[int, str, str]:
    grpcurl = REPO / ".venv" / "bin" / "grpcurl"
    flags = ["-plaintext", "-max-time", "10"]
    if bearer is not None:
        flags += ["-H", f"authorization: Bearer {bearer}"]
    if data is not None:
        flags += ["-d", data]
    proc = await asyncio.create_subprocess_exec(
        str(grpcurl), *flags, stage.app.running.address, *command,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_an_operator_uses_grpcurl(stage: Stage) -> None:
    code, out, err = await _grpcurl(stage, "list")
    assert code == 0, err
    assert "cocore.exchange.v1.Exchange" in out.split()
    code, out, err = await _grpcurl(stage, "describe", "cocore.exchange.v1.Exchange")
    assert code == 0 and "rpc Settle" in out and "rpc Reconcile" in out, err

    method = "cocore.exchange.v1.Exchange/"
    code, out, err = await _grpcurl(stage, method + "GetPolicy", bearer=DEV_OPERATOR_TOKEN)
    assert code == 0, err
    assert json.loads(out)["exchange_did"] == stage.app.exchange.did  # grpcurl keeps proto names
    code, out, err = await _grpcurl(stage, method + "Reconcile", bearer=DEV_OPERATOR_TOKEN,
                                    data='{"deep": false}')  # fmt: skip
    assert code == 0 and json.loads(out)["ok"] is True, (out, err)
    code, _, err = await _grpcurl(stage, method + "GetPolicy")
    assert code != 0 and "Unauthenticated" in err


async def test_a_receipt_refused_for_its_balance_settles_once_it_is_covered(stage: Stage) -> None:
    s = stage
    spender = await _new_member(s)
    drain = s.factory.bundle(spender.client.did, s.provider, tokens_out=999_950,
                             job_ceiling=1_000_000)  # fmt: skip
    short = s.factory.bundle(spender.client.did, s.provider, tokens_out=100)
    for bundle in (drain, short):
        await s.publish_bundle(bundle, requester=spender)
    drained = await s.settle(drain)
    # The firehose source sees the receipt too and may settle it first: once either way.
    settled = (pb.SETTLE_RESULT_SETTLED, pb.SETTLE_RESULT_ALREADY_SETTLED)
    assert drained.result in settled, drained.findings
    refused = await s.settle(short)
    assert refused.result == pb.SETTLE_RESULT_REFUSED and refused.retryable
    assert [f.code for f in refused.findings] == ["insufficient-balance"]

    # The big charge is refunded; the next retry sweep settles the refused receipt.
    opened = await s.stub.OpenDispute(pb.OpenDisputeRequest(
        settlement_uri=drained.settlement.uri, raised_by=spender.client.did, category="other",
    ), metadata=OPERATOR)  # fmt: skip
    await s.stub.ResolveDispute(pb.ResolveDisputeRequest(
        dispute_uri=opened.dispute.uri, verdict="refund-full"), metadata=OPERATOR)  # fmt: skip
    assert await retry_unsettled(s.app.exchange, min_age=timedelta(0)) >= 1
    again = await s.settle(short)
    assert again.result == pb.SETTLE_RESULT_ALREADY_SETTLED
    unsettled = await s.stub.ListUnsettled(pb.ListUnsettledRequest(), metadata=OPERATOR)
    assert str(short.receipt_uri) not in {r.receipt_uri for r in unsettled.receipts}


async def _new_member(s: Stage) -> Account:
    return await s.stack.create_account()


async def test_patronage_runs_by_itself_and_its_records_reach_the_pds(
    atproto_stack: AtprotoStack, tmp_path: Path
) -> None:
    ahead = [timedelta(0)]  # the exchange's clock runs this far ahead of the wall clock

    def clock() -> datetime:
        return datetime.now(UTC) + ahead[0]

    config = exchange_config(atproto_stack, tmp_path, firehoses=(), patronage_interval_s=0.1,
                             patronage_grace_s=60.0)  # fmt: skip
    app = await build(config, clock=clock)
    try:
        factory = ReceiptFactory(app.exchange.did, datetime.now(UTC))
        requester, provider = factory.did(), factory.provider()
        settled = await app.exchange.settle(factory.bundle(requester, provider, tokens_out=1_000))
        assert isinstance(settled, Settled) and settled.fee == 50
        await asyncio.sleep(0.3)
        assert await _periods(app) == []  # the period of today's receipt is not over

        ahead[0] = timedelta(days=61)  # two period ends pass, maybe three
        for _ in range(100):
            periods = await _periods(app)
            if len(periods) >= 2:
                break
            await asyncio.sleep(0.1)
        assert 2 <= len(periods) <= 3, periods
        first = periods[0]
        assert first.start <= factory.now < first.end and first.distributed == 39
        assert all(p.distributed == 0 for p in periods[1:])
        assert [(a.end, b.start) for a, b in pairwise(periods)] == [
            (a.end, a.end) for a in periods[:-1]
        ]
        await _drain(app)
        client = AtprotoClient.anonymous(atproto_stack.pds_url)
        try:
            page = await client.list_records(
                app.exchange.did, parse_nsid(ids.ACCOUNT_TOKEN_PATRONAGE)
            )
        finally:
            await client.aclose()
        credited = {r.value["recipient"]: r.value["tokensCredited"] for r in page.records}
        assert credited == {requester: 20, provider.did: 19}
    finally:
        await app.stop()


async def _periods(app: App) -> list[Any]:
    async with app.exchange.db.session() as session:
        query = select(db.PERIODS).order_by(db.PERIODS.c.start)
        return list((await session.execute(query)).all())


async def _drain(app: App) -> None:
    for _ in range(100):
        await app.publisher.publish_due()
        if await app.publisher.pending_count() == 0:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the outbox did not drain")
