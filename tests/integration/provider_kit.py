"""Provider agents on the real PDS and matchmaker, an exchange policy, and a requester that
publishes its job + paymentAuthorization and plays the gateway (seal, dispatch, open)."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc

from cocore.atproto import AtprotoClient
from cocore.crypto import ReplyOpener, SealScheme, seal_request, sha256_hex
from cocore.lexicon import ids
from cocore.proto.common.v1 import common_pb2
from cocore.proto.matchmaker.v1 import matchmaker_pb2 as pb
from cocore.syntax import format_datetime
from services.exchange.policy import PolicyTerms
from services.provider import credentials
from services.provider.agent import Agent
from services.provider.config import ProviderConfig, write_file
from services.provider.home import Home
from services.provider.host import measure
from tests.fixtures.atproto import AtprotoStack

from .matchmaker_kit import SERVICE_DID, Answer, Requester

CURRENCY = "CC"


async def publish_policy(stack: AtprotoStack, **terms: Any) -> AtprotoClient:
    """An exchange account with an active policy (1 CC per token each way by default)."""
    client = (await stack.create_account()).client
    body = PolicyTerms(**terms).body(client.did)
    record = {**body, "active": True, "createdAt": str(format_datetime(datetime.now(UTC)))}
    await client.create_record(ids.COMPUTE_EXCHANGE_POLICY, record)
    return client


def provider_home(
    root: Path, stack: AtprotoStack, account: Any, *, exchange_did: str, matchmaker: str,
    models_dir: Path, **values: Any,
) -> ProviderConfig:  # fmt: skip
    """An initialised, logged-in home directory, as `init` + `login` leave it."""
    home = Home(root)
    home.init()
    credentials.save(
        home, credentials.Credentials(account.handle, account.password, stack.pds_url),
        measure().machine_uuid,
    )  # fmt: skip
    settings = {
        "matchmaker": matchmaker, "matchmaker_did": SERVICE_DID, "exchange_did": exchange_did,
        "plc_url": stack.plc_url, "models_dir": str(models_dir), "slots": 2,
        "status_interval_s": 0.2, "record_poll_s": 0.3, "flush_ms": 20, "drain_timeout_s": 10,
        **values,
    }  # fmt: skip
    config = ProviderConfig.from_values(root, settings)
    write_file(home.config_file, settings)  # what `cocore-provider serve` reads
    return config


async def running_agent(config: ProviderConfig, **kwargs: Any) -> Agent:
    agent = Agent(config, **kwargs)
    await agent.start()
    async with asyncio.timeout(15):
        while not agent.link.status.connected:
            await asyncio.sleep(0.02)
    return agent


@dataclass
class Job:
    """A published job record (and its authorization) for one prompt."""

    uri: str
    cid: str
    record: dict[str, Any]
    auth_uri: str
    auth_cid: str
    auth: dict[str, Any]
    plaintext: bytes


class PayingRequester(Requester):
    """A requester with a PDS account: publishes its job records, then dispatches."""

    def __init__(self, address: str, client: AtprotoClient, exchange_did: str) -> None:
        super().__init__(address, str(client.did))
        self.client: AtprotoClient = client
        self.exchange_did = exchange_did

    async def pick(self, model: str = "", **fields: Any) -> pb.PickResponse:
        """Pick, waiting out a reconnect (on a loaded machine a link may be re-dialling)."""
        deadline = time.monotonic() + 30
        while True:
            try:
                return (
                    await super().pick(model, **fields) if model else await super().pick(**fields)
                )
            except grpc.aio.AioRpcError as e:
                gone = "no providers are connected" in (e.details() or "")
                if not gone or time.monotonic() > deadline:
                    raise
            await asyncio.sleep(0.2)

    async def publish_job(
        self, plaintext: bytes, model: str, *, max_tokens: int, ceiling: int = 100_000,
        input_format: str = "messages-v1",
    ) -> Job:  # fmt: skip
        now = datetime.now(UTC)
        expires = str(format_datetime(now + timedelta(hours=1)))
        stamp = str(format_datetime(now))
        auth = {
            "exchange": self.exchange_did, "ceiling": {"amount": ceiling, "currency": CURRENCY},
            "scope": "singleJob", "nonce": secrets.token_hex(16), "expiresAt": expires,
            "createdAt": stamp,
        }  # fmt: skip
        a = await self.client.create_record(ids.COMPUTE_PAYMENT_AUTHORIZATION, auth)
        job = {
            "model": model, "inputCommitment": sha256_hex(plaintext), "inputFormat": input_format,
            "maxTokensOut": max_tokens, "priceCeiling": {"amount": ceiling, "currency": CURRENCY},
            "acceptedTrustLevel": "self-attested", "acceptedExchanges": [self.exchange_did],
            "paymentAuthorization": {"uri": str(a.uri), "cid": str(a.cid)},
            "nonce": secrets.token_hex(16), "expiresAt": expires, "createdAt": stamp,
        }  # fmt: skip
        j = await self.client.create_record(ids.COMPUTE_JOB, job)
        auth["$type"], job["$type"] = ids.COMPUTE_PAYMENT_AUTHORIZATION, ids.COMPUTE_JOB
        return Job(str(j.uri), str(j.cid), job, str(a.uri), str(a.cid), auth, plaintext)

    def job_spec(self, job: Job, *, temperature_milli: int | None = 0, **extra: Any) -> pb.JobSpec:
        sampling = pb.SamplingParams(max_tokens=job.record["maxTokensOut"])
        if temperature_milli is not None:
            sampling.temperature_milli = temperature_milli
        return pb.JobSpec(
            requester_did=self.did, model=job.record["model"],
            input_format=job.record["inputFormat"], sampling=sampling,
            job=common_pb2.StrongRef(uri=job.uri, cid=job.cid),
            authorization=common_pb2.StrongRef(uri=job.auth_uri, cid=job.auth_cid),
            price_ceiling=common_pb2.Money(
                amount=job.record["priceCeiling"]["amount"], currency=CURRENCY
            ),
            **extra,
        )  # fmt: skip

    def seal_for(
        self, candidates: list[pb.Candidate], plaintext: bytes
    ) -> tuple[list[pb.Attempt], list[ReplyOpener]]:
        attempts, openers = [], []
        for c in candidates:
            blob, pub, opener = seal_request(
                SealScheme(c.enc_scheme), c.encryption_pub_key, plaintext
            )
            attempts.append(pb.Attempt(
                lease=c.lease, sealed_input=blob, requester_pub_key=pub, enc_scheme=c.enc_scheme
            ))  # fmt: skip
            openers.append(opener)
        return attempts, openers

    async def ask(self, job: Job, **pick: Any) -> Answer:
        picked = await self.pick(job.record["model"], **pick)
        attempts, openers = self.seal_for(list(picked.candidates), job.plaintext)
        return await self.collect(self.dispatch_call(self.job_spec(job), attempts), openers)
