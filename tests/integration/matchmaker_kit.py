"""A matchmaker, provider machines and a requester on the real PDS, for the integration tests.

Providers are real PDS accounts with a published, signed attestation record; they register
with a service-auth JWT the PDS issues; a requester picks, seals, dispatches and opens every
chunk like the gateway will.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc

from cocore.atproto import AtprotoClient, get_service_auth
from cocore.crypto import EncryptionKeyPair, ReplyOpener, SealScheme, SigningKey, seal_request
from cocore.lexicon import ids
from cocore.proto.matchmaker.v1 import matchmaker_pb2 as pb
from cocore.proto.matchmaker.v1 import matchmaker_pb2_grpc as pb_grpc
from cocore.rpc import ServerConfig
from cocore.signing import sign_attestation
from cocore.storage import sqlite_url
from cocore.syntax import format_datetime, parse_nsid
from services.matchmaker.config import MatchmakerConfig
from services.matchmaker.server import MatchmakerService, start
from services.matchmaker.settings import JobSettings, PoolSettings, StreamSettings
from services.provider.link import (
    CONNECT_LXM,
    EchoRunner,
    JobRunner,
    LinkIdentity,
    LinkSettings,
    ModelSpec,
    ProviderLink,
    StrongRef,
)
from tests.fixtures.atproto import AtprotoStack

SERVICE_DID = "did:web:matchmaker.cocore.test"
TOKEN = "test-matchmaker-token-0123456789abcdef"
AUTH = (("authorization", f"Bearer {TOKEN}"),)
HEX64 = "ab" * 32
MODEL = "tiny-echo"


def fast_streams(**overrides: Any) -> StreamSettings:
    base = StreamSettings(
        register_timeout_s=5, challenge_timeout_s=5, heartbeat_interval_s=0.5,
        liveness_timeout_s=3, ping_interval_s=0.5,
    )  # fmt: skip
    return replace(base, **overrides)


def fast_jobs(**overrides: Any) -> JobSettings:
    base = JobSettings(
        accept_timeout_s=2, first_chunk_timeout_s=3, idle_timeout_s=3, resume_grace_s=4
    )
    return replace(base, **overrides)


def matchmaker_config(
    stack: AtprotoStack, db_path: Path, *, replica_id: str = "mm-a", **settings: Any
) -> MatchmakerConfig:
    return MatchmakerConfig(
        server=ServerConfig(metrics_port=None, grace_s=1),
        service_did=SERVICE_DID,
        service_token=TOKEN,
        plc_url=stack.plc_url,
        database_url=sqlite_url(db_path),
        replica_id=replica_id,
        directory_lease_s=3,
        directory_sync_s=0.2,
        streams=settings.pop("streams", fast_streams()),
        jobs=settings.pop("jobs", fast_jobs()),
        pool=settings.pop("pool", PoolSettings()),
    )


@contextlib.asynccontextmanager
async def running_matchmaker(config: MatchmakerConfig) -> AsyncIterator[MatchmakerService]:
    service = await start(config)
    try:
        yield service
    finally:
        await service.stop(grace_s=0)


async def publish_attestation(
    client: AtprotoClient, key: SigningKey, keypair: EncryptionKeyPair, *, hours: float = 24
) -> StrongRef:
    now = datetime.now(UTC)
    record: dict[str, Any] = {
        "publicKey": key.public_key.to_cocore_b64(), "encryptionPubKey": keypair.public_key_b64,
        "encScheme": keypair.scheme.value, "chipName": "Test CPU", "hardwareModel": "Linux",
        "serialNumberHash": HEX64, "osVersion": "Linux", "binaryHash": HEX64,
        "sipEnabled": False, "secureBootEnabled": False, "secureEnclaveAvailable": False,
        "authenticatedRootEnabled": False, "attestedAt": str(format_datetime(now)),
        "expiresAt": str(format_datetime(now + timedelta(hours=hours))),
    }  # fmt: skip
    result = await client.create_record(ids.COMPUTE_ATTESTATION, sign_attestation(record, key))
    return StrongRef(str(result.uri), str(result.cid))


@dataclass
class Machine:
    """A provider machine: its account, keys, link and runner."""

    client: AtprotoClient
    key: SigningKey
    keypair: EncryptionKeyPair
    attestation: StrongRef
    runner: JobRunner
    link: ProviderLink
    machine_id: str = "m1"
    task: asyncio.Task[None] | None = None

    @property
    def did(self) -> str:
        return str(self.client.did)

    def start(self) -> None:
        self.task = asyncio.create_task(self.link.run())

    async def wait_registered(self, timeout_s: float = 10) -> None:
        async with asyncio.timeout(timeout_s):
            while not self.link.status.connected:
                await asyncio.sleep(0.02)

    async def stop(self) -> None:
        self.link.stop()
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)


async def make_machine(
    stack: AtprotoStack,
    address: str,
    *,
    runner: Callable[[EncryptionKeyPair], JobRunner] | None = None,
    slots: int = 2,
    models: tuple[str, ...] = (MODEL,),
    client: AtprotoClient | None = None,
    machine_id: str = "m1",
    scheme: SealScheme = SealScheme.X25519,
    **link_settings: Any,
) -> Machine:
    if client is None:
        client = (await stack.create_account()).client
    key, keypair = SigningKey.generate(), EncryptionKeyPair.generate(scheme)
    attestation = await publish_attestation(client, key, keypair)
    job_runner = runner(keypair) if runner is not None else EchoRunner(keypair)
    identity = LinkIdentity(
        did=str(client.did), machine_id=machine_id, attestation_key=key, attestation=attestation,
        encryption_pub_key=keypair.public_key_b64, enc_scheme=scheme,
    )  # fmt: skip
    settings = LinkSettings(
        address=address, models=tuple(ModelSpec(m, 4096) for m in models), slots=slots,
        binary_version="1.0.0", backoff_initial_s=0.1, backoff_max_s=0.5,
        **link_settings,
    )  # fmt: skip
    lxm = parse_nsid(CONNECT_LXM)

    async def token() -> str:
        return await get_service_auth(client, SERVICE_DID, lxm)

    link = ProviderLink(identity, settings, job_runner, token)
    return Machine(client, key, keypair, attestation, job_runner, link, machine_id)


@dataclass
class Answer:
    """What a requester got back from a Dispatch, opened."""

    events: list[pb.DispatchEvent] = field(default_factory=list)
    text: dict[int, str] = field(default_factory=dict)  # seq → opened content
    reasoning: list[str] = field(default_factory=list)
    completed: pb.Completed | None = None
    error: pb.Error | None = None
    failovers: list[str] = field(default_factory=list)
    started: list[pb.Started] = field(default_factory=list)

    @property
    def content(self) -> str:
        return "".join(self.text[seq] for seq in sorted(self.text))


class Requester:
    """Plays the gateway: Pick, seal to each candidate, Dispatch, open every chunk."""

    def __init__(self, address: str, did: str = "did:plc:requester0000000000000000") -> None:
        self.channel = grpc.aio.insecure_channel(address)
        self.stub = pb_grpc.MatchmakerStub(self.channel)
        self.did = did

    async def aclose(self) -> None:
        await self.channel.close()

    async def pick(self, model: str = MODEL, **fields: Any) -> pb.PickResponse:
        request = pb.PickRequest(model=model, requester_did=self.did, **fields)
        response: pb.PickResponse = await self.stub.Pick(request, metadata=AUTH)
        return response

    async def list_providers(self) -> list[pb.ProviderInfo]:
        return list(
            (await self.stub.ListProviders(pb.ListProvidersRequest(), metadata=AUTH)).providers
        )

    def spec(self, model: str = MODEL, max_tokens: int = 64) -> pb.JobSpec:
        return pb.JobSpec(
            requester_did=self.did, model=model, sampling=pb.SamplingParams(max_tokens=max_tokens)
        )

    def seal(
        self, candidates: list[pb.Candidate], prompt: str
    ) -> tuple[list[pb.Attempt], list[ReplyOpener]]:
        attempts, openers = [], []
        for c in candidates:
            blob, pub, opener = seal_request(
                SealScheme(c.enc_scheme), c.encryption_pub_key, prompt.encode()
            )
            attempts.append(
                pb.Attempt(
                    lease=c.lease, sealed_input=blob, requester_pub_key=pub, enc_scheme=c.enc_scheme
                )
            )
            openers.append(opener)
        return attempts, openers

    def dispatch_call(self, spec: pb.JobSpec, attempts: list[pb.Attempt]) -> Any:
        return self.stub.Dispatch(pb.DispatchRequest(spec=spec, attempts=attempts), metadata=AUTH)

    async def run(
        self, prompt: str, *, candidates: int = 1, model: str = MODEL, max_tokens: int = 64,
        on_event: Callable[[pb.DispatchEvent], Any] | None = None, **pick: Any,
    ) -> Answer:  # fmt: skip
        picked = await self.pick(model, max_candidates=candidates, **pick)
        attempts, openers = self.seal(list(picked.candidates), prompt)
        return await self.collect(
            self.dispatch_call(self.spec(model, max_tokens), attempts), openers, on_event
        )

    async def collect(
        self, call: Any, openers: list[ReplyOpener],
        on_event: Callable[[pb.DispatchEvent], Any] | None = None,
    ) -> Answer:  # fmt: skip
        answer, opener = Answer(), openers[0]
        async for event in call:
            answer.events.append(event)
            kind = event.WhichOneof("event")
            if kind == "started":
                answer.started.append(event.started)
                opener = openers[event.started.attempt]
            elif kind == "chunks":
                for offset, chunk in enumerate(event.chunks.chunks):
                    plain = opener.open_chunk(chunk.sealed).decode()
                    if chunk.channel == pb.CHANNEL_REASONING:
                        answer.reasoning.append(plain)
                    else:
                        answer.text[event.chunks.first_seq + offset] = plain
            elif kind == "failover":
                answer.failovers.append(event.failover.code)
            elif kind == "completed":
                answer.completed = event.completed
            elif kind == "error":
                answer.error = event.error
            if on_event is not None:
                result = on_event(event)
                if asyncio.iscoroutine(result):
                    await result
        return answer


async def eventually(check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not check():
            await asyncio.sleep(0.02)


def slots_in_use(service: MatchmakerService) -> int:
    return sum(e.in_use for e in service.hub.pool.entries() if not e.remote)


class Proxy:
    """A TCP proxy in front of the matchmaker that a test can cut (a network drop) or block."""

    def __init__(self, target: str) -> None:
        host, _, port = target.rpartition(":")
        self._target = (host, int(port))
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.blocked = False
        self.connections = 0

    @property
    def address(self) -> str:
        assert self._server is not None
        return f"127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def start(self) -> Proxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def aclose(self) -> None:
        self.sever()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def sever(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.blocked:
            writer.transport.abort()
            return
        self.connections += 1
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        self._writers.update((writer, up_writer))
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.transport.abort()
            self._writers.discard(writer)
