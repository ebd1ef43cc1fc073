"""The AppView's query surfaces against the real PDS: XRPC over HTTP, gRPC, grpcurl, verify."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import grpc
import httpx
import pytest

from cocore.crypto import SigningKey
from cocore.errors import InvalidInput, NotFound
from cocore.lexicon import default_registry, ids
from cocore.proto.appview.v1 import appview_pb2 as pb
from cocore.proto.appview.v1 import appview_pb2_grpc
from cocore.rpc import error_from_rpc
from cocore.signing import sign_settlement
from cocore.syntax import parse_record_key
from services.appview.server import AppView
from tests.fixtures.atproto import Account, AtprotoStack
from tests.services.appview.chain import Chain, Rec, chain, resign_receipt
from tests.services.appview.harness import eventually, running
from tests.services.appview.plc import add_exchange_key

pytestmark = pytest.mark.pds
REPO = Path(__file__).resolve().parents[2]
REGISTRY = default_registry()


@dataclass
class World:
    app: AppView
    http: httpx.AsyncClient
    stub: Any
    accounts: dict[str, Account]
    provider: str
    requester: str
    exchange: str
    good: Chain
    tampered_price: Rec
    wrong_job_cid: Rec
    bad_sig: Rec
    wrong_fee: Rec
    keyless: Chain


WORLD_MODEL = f"appview-test-model-{uuid4().hex[:8]}"


async def publish(accounts: dict[str, Account], *records: Rec) -> None:
    for rec in records:
        await accounts[rec.repo].client.create_record(
            rec.collection, rec.value, parse_record_key(rec.rkey)
        )


def settlement_variant(c: Chain, key: SigningKey, **changes: Any) -> Rec:
    body = {k: v for k, v in c.settlement.value.items() if k not in ("sig", "$type")}
    signed = sign_settlement({**body, **changes}, key)
    return Rec(
        ids.COMPUTE_SETTLEMENT, c.settlement.repo, {"$type": str(ids.COMPUTE_SETTLEMENT), **signed}
    )


@pytest.fixture(scope="module")
async def world(
    atproto_stack: AtprotoStack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    accounts = {
        str(a.client.did): a for a in [await atproto_stack.create_account() for _ in range(4)]
    }
    provider, requester, exchange, keyless_exchange = list(accounts)
    provider_key, exchange_key = SigningKey.generate(), SigningKey.generate()
    await add_exchange_key(atproto_stack, exchange, exchange_key)
    good = chain(
        model=WORLD_MODEL,
        provider=provider,
        requester=requester,
        exchange=exchange,
        provider_key=provider_key,
        exchange_key=exchange_key,
    )
    records = [
        good.authorization,
        good.job,
        good.attestation,
        good.receipt,
        good.policy,
        good.settlement,
    ]
    # Tampered receipts: a changed price under the old signature; a job link with a wrong CID.
    tampered = Rec(
        ids.COMPUTE_RECEIPT,
        provider,
        {**good.receipt.value, "price": {"amount": 1, "currency": "USD"}},
    )
    wrong_cid = resign_receipt(
        Rec(ids.COMPUTE_RECEIPT, provider, good.receipt.value),
        provider_key,
        job={"uri": good.job.uri, "cid": good.attestation.cid},
    )
    bad_sig = Rec(
        ids.COMPUTE_SETTLEMENT,
        exchange,
        {**good.settlement.value, "exchangeFee": {"amount": 0, "currency": "USD"}},
    )
    wrong_fee = settlement_variant(
        good,
        exchange_key,
        exchangeFee={"amount": 1, "currency": "USD"},
        providerPayout={"amount": 99, "currency": "USD"},
    )
    keyless = chain(
        model=WORLD_MODEL,
        provider=provider,
        requester=requester,
        exchange=keyless_exchange,
        provider_key=provider_key,
        exchange_key=SigningKey.generate(),
        att=good.attestation,
    )
    friend = Rec(
        ids.ACCOUNT_FRIEND,
        requester,
        {
            "$type": str(ids.ACCOUNT_FRIEND),
            "subject": provider,
            "createdAt": "2026-11-21T00:00:00.000Z",
        },
    )
    profile = Rec(
        ids.ACCOUNT_PROFILE,
        provider,
        {
            "$type": str(ids.ACCOUNT_PROFILE),
            "displayName": "Provider One",
            "createdAt": "2026-11-21T00:00:00.000Z",
        },
        "self",
    )
    db_url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('appview-api') / 'a.db'}"
    async with running(atproto_stack, db_url) as app:
        await eventually(lambda: _connected(app), "the firehose")
        await publish(
            accounts,
            *records,
            tampered,
            wrong_cid,
            bad_sig,
            wrong_fee,
            friend,
            profile,
            keyless.authorization,
            keyless.job,
            keyless.receipt,
            keyless.policy,
            keyless.settlement,
        )
        async with httpx.AsyncClient(base_url=app.http_url) as http:

            async def ready() -> bool:
                # Other tests publish to the same PDS, so wait for this world's own records.
                r = await http.get(
                    "/xrpc/dev.cocore.compute.listJobs", params={"requester": requester}
                )
                jobs = {j["uri"] for j in r.json().get("jobs", [])}
                r = await http.get(
                    "/xrpc/dev.cocore.compute.listSettlements",
                    params={"receipt": keyless.receipt.uri},
                )
                return {good.job.uri, keyless.job.uri} <= jobs and bool(r.json().get("settlements"))

            await eventually(ready, "the records to be indexed")
            async with grpc.aio.insecure_channel(app.grpc.address) as channel:
                yield World(
                    app,
                    http,
                    appview_pb2_grpc.AppViewStub(channel),
                    accounts,
                    provider,
                    requester,
                    exchange,
                    good,
                    tampered,
                    wrong_cid,
                    bad_sig,
                    wrong_fee,
                    keyless,
                )


async def _connected(app: AppView) -> bool:
    return all(i.connected for i in app.ingestors.values())


async def xrpc(w: World, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
    response = await w.http.get(f"/xrpc/{method}", params=params)
    body = response.json()
    if response.status_code == 200:
        REGISTRY.validate_params(method, {k: str(v) for k, v in params.items()})
        assert REGISTRY.validate_output(method, body) == [], body
    return response.status_code, body


# ---------------------------------------------------------------- lists


async def test_list_receipts_filters_and_pages(world: World) -> None:
    w = world
    status, body = await xrpc(w, ids.COMPUTE_LIST_RECEIPTS, provider=w.provider)
    uris = [r["uri"] for r in body["receipts"]]
    assert status == 200 and w.good.receipt.uri in uris and w.tampered_price.uri in uris
    assert all(
        r["repo"] == w.provider and r["collection"] == ids.COMPUTE_RECEIPT for r in body["receipts"]
    )
    first = body["receipts"][-1]
    assert first["body"]["requester"] == w.requester and "indexedAt" in first

    paged: list[str] = []
    cursor: str | None = None
    while True:
        params = {"provider": w.provider, "limit": 1, **({"cursor": cursor} if cursor else {})}
        status, page = await xrpc(w, ids.COMPUTE_LIST_RECEIPTS, **params)
        paged += [r["uri"] for r in page["receipts"]]
        cursor = page.get("cursor")
        if cursor is None:
            break
    assert paged == uris

    _, by_job = await xrpc(w, ids.COMPUTE_LIST_RECEIPTS, job=w.good.job.uri, requester=w.requester)
    assert {r["uri"] for r in by_job["receipts"]} == {
        w.good.receipt.uri,
        w.tampered_price.uri,
        w.wrong_job_cid.uri,
    }
    _, none = await xrpc(w, ids.COMPUTE_LIST_RECEIPTS, provider=w.requester)
    assert none == {"receipts": []}


async def test_other_lists(world: World) -> None:
    w = world
    _, jobs = await xrpc(w, ids.COMPUTE_LIST_JOBS, requester=w.requester)
    assert {j["uri"] for j in jobs["jobs"]} == {w.good.job.uri, w.keyless.job.uri}
    _, settlements = await xrpc(w, ids.COMPUTE_LIST_SETTLEMENTS, receipt=w.good.receipt.uri)
    assert {s["uri"] for s in settlements["settlements"]} == {
        w.good.settlement.uri,
        w.bad_sig.uri,
        w.wrong_fee.uri,
    }
    _, by_requester = await xrpc(w, ids.COMPUTE_LIST_SETTLEMENTS, requester=w.requester)
    assert len(by_requester["settlements"]) == 4
    _, profiles = await xrpc(w, ids.ACCOUNT_LIST_PROFILES)
    assert any(p["repo"] == w.provider for p in profiles["profiles"])
    status, _ = await xrpc(w, ids.COMPUTE_LIST_PROVIDERS, limit=100)
    assert status == 200


async def test_errors_are_xrpc_shaped(world: World) -> None:
    w = world
    cases = [
        ("/xrpc/dev.cocore.compute.listJobs", 400, "InvalidRequest"),
        ("/xrpc/dev.cocore.compute.listReceipts?provider=nope", 400, "InvalidRequest"),
        ("/xrpc/dev.cocore.compute.listReceipts?limit=0", 400, "InvalidRequest"),
        ("/xrpc/dev.cocore.compute.listReceipts?cursor=garbage", 400, "InvalidRequest"),
        (
            f"/xrpc/dev.cocore.compute.verifyReceipt?uri=at://{w.provider}/{ids.COMPUTE_RECEIPT}/3aaaaaaaaaaaa",
            404,
            "NotFound",
        ),
        ("/xrpc/dev.cocore.compute.verifyReceipt", 400, "InvalidRequest"),
        ("/xrpc/com.example.nothing", 501, "MethodNotImplemented"),
        (f"/xrpc/dev.cocore.account.getProfile?did=did:plc:{'z' * 24}", 404, "NotFound"),
    ]
    for path, status, name in cases:
        response = await w.http.get(path)
        assert (response.status_code, response.json()["error"]) == (status, name), path
        assert response.json()["message"]
    response = await w.http.post("/xrpc/dev.cocore.compute.listProviders")
    assert response.status_code == 405 and response.json()["error"] == "InvalidRequest"
    assert (await w.http.get("/_health")).json() == {"ok": True}


# ---------------------------------------------------------------- verification


async def test_verify_receipt(world: World) -> None:
    w = world
    status, ok = await xrpc(w, ids.COMPUTE_VERIFY_RECEIPT, uri=w.good.receipt.uri)
    assert status == 200 and ok == {"ok": True, "trustLevel": "self-attested", "findings": []}
    _, tampered = await xrpc(w, ids.COMPUTE_VERIFY_RECEIPT, uri=w.tampered_price.uri)
    assert not tampered["ok"] and "signature-invalid" in _codes(tampered)
    _, wrong = await xrpc(w, ids.COMPUTE_VERIFY_RECEIPT, uri=w.wrong_job_cid.uri)
    assert not wrong["ok"] and _codes(wrong) == ["job-cid-mismatch"]
    assert wrong["trustLevel"] == "self-attested"


async def test_verify_settlement_checks_signature_fee_and_key(world: World) -> None:
    w = world
    _, ok = await xrpc(w, ids.COMPUTE_VERIFY_SETTLEMENT, uri=w.good.settlement.uri)
    assert ok == {"ok": True, "findings": []}
    _, bad = await xrpc(w, ids.COMPUTE_VERIFY_SETTLEMENT, uri=w.bad_sig.uri)
    assert not bad["ok"] and "signature-invalid" in _codes(bad)
    _, fee = await xrpc(w, ids.COMPUTE_VERIFY_SETTLEMENT, uri=w.wrong_fee.uri)
    assert not fee["ok"] and _codes(fee) == ["fee-mismatch"]
    _, keyless = await xrpc(w, ids.COMPUTE_VERIFY_SETTLEMENT, uri=w.keyless.settlement.uri)
    assert not keyless["ok"] and _codes(keyless) == ["exchange-key-unavailable"]


def _codes(result: dict[str, Any]) -> list[str]:
    return [f["code"] for f in result["findings"]]


# ---------------------------------------------------------------- aggregates and accounts


async def test_activity_latency_profile_accounts_friends(world: World) -> None:
    w = world
    _, activity = await xrpc(w, ids.COMPUTE_MODEL_ACTIVITY)
    (model,) = [m for m in activity["models"] if m["modelId"] == WORLD_MODEL]
    assert model["totals"]["hour"]["requests"] >= 4 and model["totals"]["month"]["tokens"] >= 4 * 42
    assert [p["did"] for p in model["byProvider"]] == [w.provider]

    _, latency = await xrpc(w, ids.COMPUTE_LATENCY)
    assert latency["overall"]["sampleCount"] >= 4  # other tests' receipts share the PDS
    assert latency["byModel"][WORLD_MODEL]["p50Ms"] == 2000
    assert latency["byProvider"][w.provider]["sampleCount"] >= 4

    _, profile = await xrpc(w, ids.ACCOUNT_GET_PROFILE, did=w.provider)
    p = profile["profile"]
    assert p["displayName"] == "Provider One" and p["receiptCount"] >= 4
    assert p["incomingFriendsCount"] == 1 and p["latency"]["sampleCount"] >= 4

    _, accounts = await xrpc(w, ids.ACCOUNT_LIST_ACCOUNTS, q=w.provider[-10:])
    assert [a["did"] for a in accounts["accounts"]] == [w.provider] and accounts["total"] == 1
    _, friends = await xrpc(w, ids.ACCOUNT_LIST_INCOMING_FRIENDS, did=w.provider)
    assert [(f["friender"], f["subject"]) for f in friends["friends"]] == [
        (w.requester, w.provider)
    ]
    _, edges = await xrpc(w, ids.ACCOUNT_LIST_FRIEND_EDGES)
    assert {"friender": w.requester, "subject": w.provider} in [
        {k: e[k] for k in ("friender", "subject")} for e in edges["edges"]
    ]


# ---------------------------------------------------------------- gRPC


async def test_grpc_mirrors_xrpc(world: World) -> None:
    w = world
    page = await w.stub.ListReceipts(pb.ListReceiptsRequest(provider=w.provider, limit=2))
    _, body = await xrpc(w, ids.COMPUTE_LIST_RECEIPTS, provider=w.provider, limit=2)
    assert [r.record.uri for r in page.records] == [r["uri"] for r in body["receipts"]]
    assert page.cursor == body["cursor"]
    assert json.loads(page.records[0].record.record) == body["receipts"][0]["body"]

    verdict = await w.stub.VerifyReceipt(pb.VerifyRequest(uri=w.tampered_price.uri))
    assert not verdict.ok and verdict.trust_level == "self-attested"
    assert "signature-invalid" in [f.code for f in verdict.findings]
    profile = await w.stub.GetProfile(pb.GetProfileRequest(did=w.provider))
    assert profile.profile.display_name == "Provider One"
    activity = await w.stub.ModelActivity(pb.ModelActivityRequest())
    assert any(m.model_id == WORLD_MODEL for m in activity.models)

    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await w.stub.ListJobs(pb.ListJobsRequest())
    assert isinstance(error_from_rpc(missing.value), InvalidInput)
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await w.stub.VerifySettlement(
            pb.VerifyRequest(uri=f"at://{w.exchange}/{ids.COMPUTE_SETTLEMENT}/3aaaaaaaaaaaa")
        )
    assert isinstance(error_from_rpc(unknown.value), NotFound)


async def test_watch_records_replays_then_follows(world: World) -> None:
    w = world
    wanted = [str(ids.COMPUTE_RECEIPT)]
    stream = w.stub.WatchRecords(pb.WatchRecordsRequest(cursor=0, collections=wanted))
    seen: list[Any] = []

    async def until(uri: str) -> None:
        async for event in stream:
            seen.append(event)
            if event.record.uri == uri:
                return

    await asyncio.wait_for(until(w.wrong_job_cid.uri), 20)
    assert {e.record.collection for e in seen} == {ids.COMPUTE_RECEIPT}
    assert [e.seq for e in seen] == sorted({e.seq for e in seen})
    event = next(e for e in seen if e.record.uri == w.good.receipt.uri)
    assert (
        event.action == pb.RecordEvent.ACTION_CREATE
        and json.loads(event.record.record) == w.good.receipt.value
    )
    # Live: a delete made now arrives on the same stream.
    tampered = parse_record_key(w.tampered_price.rkey)
    await w.accounts[w.provider].client.delete_record(ids.COMPUTE_RECEIPT, tampered)
    async for event in stream:
        if event.record.uri == w.tampered_price.uri:
            assert event.action == pb.RecordEvent.ACTION_DELETE and event.seq > seen[-1].seq
            break
    stream.cancel()


# ---------------------------------------------------------------- grpcurl


async def test_grpcurl_lists_and_calls(world: World) -> None:
    grpcurl = shutil.which("grpcurl", path=str(REPO / ".venv" / "bin")) or shutil.which("grpcurl")
    assert grpcurl is not None, "run `make grpcurl`"

    async def run(*args: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            grpcurl,
            "-plaintext",
            "-max-time",
            "10",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err.decode()
        return out.decode()

    assert "cocore.appview.v1.AppView" in (await run(world.app.grpc.address, "list")).split()
    out = await run(
        "-d",
        json.dumps({"uri": world.good.receipt.uri}),
        world.app.grpc.address,
        "cocore.appview.v1.AppView/VerifyReceipt",
    )
    assert json.loads(out) == {"ok": True, "trust_level": "self-attested"}
