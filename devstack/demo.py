"""`make demo`: a streamed chat through the official `openai` client, then the story it left
behind — the receipt and its verification (AppView and offline), the settlement, the balances."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc
import httpx
from openai import AsyncOpenAI

from cocore.proto.exchange.v1 import exchange_pb2 as xpb
from cocore.proto.exchange.v1 import exchange_pb2_grpc as xgrpc
from cocore.syntax import parse_at_uri
from services.exchange.config import DEV_SERVICE_TOKEN

from .layout import Layout

PROMPT = "In one sentence, what is a co-op?"
READY_TIMEOUT_S = 60.0  # how long the demo waits for a (re)starting exchange


def read_env(lay: Layout) -> dict[str, str]:
    if not lay.env_file.exists():
        raise SystemExit("the stack is not running: make up")
    lines = lay.env_file.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


async def balances(env: dict[str, str], dids: dict[str, str]) -> dict[str, tuple[int, bool]]:
    """Each DID's balance and whether the exchange has ever granted it anything."""
    out = {}
    async with grpc.aio.insecure_channel(env["COCORE_EXCHANGE_ADDR"]) as channel:
        stub = xgrpc.ExchangeStub(channel)
        for name, did in dids.items():
            meta = (("authorization", f"Bearer {DEV_SERVICE_TOKEN}"), ("x-cocore-actor-did", did))
            # wait_for_ready: a service the supervisor is restarting is waited for (up to the
            # deadline), not reported as refused.
            reply = await stub.GetBalance(
                xpb.GetBalanceRequest(did=did), metadata=meta, wait_for_ready=True,
                timeout=READY_TIMEOUT_S,
            )  # fmt: skip
            out[name] = (int(reply.balance), bool(reply.member))
    return out


async def chat(env: dict[str, str]) -> dict[str, Any]:
    client = AsyncOpenAI(base_url=env["OPENAI_BASE_URL"], api_key=env["OPENAI_API_KEY"])
    x_cocore: dict[str, Any] = {}
    print(f"» {PROMPT}\n« ", end="", flush=True)
    async with client:
        stream = await client.chat.completions.create(
            model=env["COCORE_MODEL"], messages=[{"role": "user", "content": PROMPT}],
            max_tokens=48, temperature=0, stream=True, stream_options={"include_usage": True},
        )  # fmt: skip
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                print(chunk.choices[0].delta.content, end="", flush=True)
            x_cocore = (chunk.model_extra or {}).get("x_cocore") or x_cocore
            if chunk.usage is not None:
                usage = chunk.usage
    print(
        f"\n\n  usage: {usage.prompt_tokens} prompt + {usage.completion_tokens} completion tokens"
    )
    return x_cocore


async def get_record(http: httpx.AsyncClient, env: dict[str, str], uri: str) -> dict[str, Any]:
    at = parse_at_uri(uri)
    r = await http.get(f"{env['COCORE_PDS_URL']}/xrpc/com.atproto.repo.getRecord",
                       params={"repo": str(at.repo), "collection": str(at.collection),
                               "rkey": str(at.rkey)})  # fmt: skip
    r.raise_for_status()
    value: dict[str, Any] = r.json()["value"]
    return value


async def wait_xrpc(http: httpx.AsyncClient, url: str, params: dict[str, str],
                    done: Any, timeout_s: float = 60) -> dict[str, Any]:  # fmt: skip
    deadline = time.monotonic() + timeout_s
    while True:
        r = await http.get(url, params=params)
        body: dict[str, Any] = r.json()
        if r.status_code == 200 and done(body):
            return body
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting on {url}: {r.status_code} {body}")
        await asyncio.sleep(0.5)


def offline_verify(bundle: dict[str, Any]) -> dict[str, Any]:
    """`cocore verify receipt` — exactly what an auditor runs on records they fetched."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(bundle, f)
    cocore = str(Path(sys.executable).parent / "cocore")
    done = subprocess.run([cocore, "verify", "receipt", f.name], capture_output=True,  # noqa: S603
                          text=True, check=False)  # fmt: skip
    Path(f.name).unlink()
    result: dict[str, Any] = json.loads(done.stdout)
    return result


async def demo(lay: Layout) -> int:
    env = read_env(lay)
    dids = {"requester": env["COCORE_REQUESTER_DID"], "provider": env["COCORE_PROVIDER_DID"],
            "treasury": env["COCORE_EXCHANGE_DID"]}  # fmt: skip
    before = await balances(env, dids)
    started = time.monotonic()
    x = await chat(env)
    answered = time.monotonic()
    appview = env["COCORE_APPVIEW_URL"] + "/xrpc/dev.cocore.compute."
    async with httpx.AsyncClient(timeout=10) as http:
        receipt_uri = x["receipt_uri"]
        print(f"\n1. the job       {x['job_uri']}")
        print(f"   the receipt   {receipt_uri}")
        print(f"                 (signed by provider {x['provider_did']})")
        receipt = await get_record(http, env, receipt_uri)
        print(
            f"   tokens {receipt['tokens']['in']} in / {receipt['tokens']['out']} out, "
            f"price {receipt['price']['amount']} {receipt['price']['currency']}"
        )
        job = await get_record(http, env, receipt["job"]["uri"])
        attestation = await get_record(http, env, receipt["attestation"]["uri"])
        auth = await get_record(http, env, x["authorization_uri"])
        verdict = offline_verify({
            "receipt": receipt, "receiptUri": receipt_uri, "job": job,
            "attestation": attestation, "authorization": auth,
            "strictOptions": {"expectedProvider": x["provider_did"]},
        })  # fmt: skip
        print(
            f"2. offline: cocore verify receipt → ok={verdict['ok']} "
            f"{[f['code'] for f in verdict['findings']] or ''}"
        )
        indexed = await wait_xrpc(http, appview + "verifyReceipt", {"uri": receipt_uri},
                                  lambda b: "ok" in b)  # fmt: skip
        print(f"   AppView verifyReceipt → ok={indexed['ok']} trustLevel={indexed['trustLevel']}")
        found = await wait_xrpc(http, appview + "listSettlements", {"receipt": receipt_uri},
                                lambda b: bool(b["settlements"]))  # fmt: skip
        settlement = found["settlements"][0]
        seen = time.monotonic() - answered
        body = settlement["body"]
        print(
            f"3. the settlement {settlement['uri']}\n   status {body['status']}: charged "
            f"{body['amountCharged']['amount']}, provider payout "
            f"{body['providerPayout']['amount']}, exchange fee {body['exchangeFee']['amount']} "
            f"({body['amountCharged']['currency']})"
        )
        checked = await wait_xrpc(http, appview + "verifySettlement", {"uri": settlement["uri"]},
                                  lambda b: "ok" in b)  # fmt: skip
        print(
            f"   AppView verifySettlement → ok={checked['ok']}  (answer in "
            f"{answered - started:.1f} s; settlement indexed {seen:.1f} s after it)"
        )
    after = await balances(env, dids)
    print("4. balances (CC)      before        after       change")
    for name in dids:
        (was, member), (now, _) = before[name], after[name]
        note = "" if member or name == "treasury" else "   (incl. the onboarding grant)"
        print(f"   {name:<12} {was:>12,} {now:>12,} {now - was:>+12,}{note}")
    return 0 if verdict["ok"] and indexed["ok"] and checked["ok"] else 1
