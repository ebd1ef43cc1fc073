"""Wiring: build the pool, hub, directory and servicers, start the gRPC server, stop it cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc

from cocore.atproto import IdentityResolver
from cocore.proto.matchmaker.v1 import matchmaker_pb2 as pb
from cocore.proto.matchmaker.v1 import matchmaker_pb2_grpc as pb_grpc
from cocore.rpc import RunningServer, service_name, start_server
from cocore.storage import Database, upgrade

from .config import MatchmakerConfig
from .directory import ProviderDirectory
from .dispatch.forward import Peers
from .dispatch.front import Dispatcher
from .errors import StreamClosed
from .events import MatchmakerEvents
from .handlers import MatchmakerServicer, ProviderLinkServicer
from .pool import LeaseSigner, Pool
from .replicas import DirectorySync
from .service_auth import ServiceCredential
from .streams.attestation import AttestationChecker, PdsAttestationChecker
from .streams.auth import JwtTokenVerifier, TokenVerifier
from .streams.hub import Hub

_DRAINING = "matchmaker_draining"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


@dataclass(eq=False)
class MatchmakerService:
    running: RunningServer
    hub: Hub
    directory: ProviderDirectory
    sync: DirectorySync
    _sync_task: asyncio.Task[None]
    _closers: list[Callable[[], object]]

    @property
    def address(self) -> str:
        return self.running.address

    async def stop(self, grace_s: float | None = None) -> None:
        """Drain: no new streams or picks, running jobs finish (up to the grace), then close."""
        hub = self.hub
        hub.draining = True
        for stream in list(hub.connections.values()):
            if stream.entry is not None:
                stream.entry.draining = True
                hub.touch(stream.entry)
        grace = self.running.config.grace_s if grace_s is None else grace_s
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_until_idle(hub), grace)
        for stream in list(hub.connections.values()):
            stream.close(
                StreamClosed("the matchmaker is shutting down", code="matchmaker_draining")
            )
        self._sync_task.cancel()
        await asyncio.gather(self._sync_task, return_exceptions=True)
        with contextlib.suppress(Exception):  # best effort: leases expire on their own anyway
            await self.directory.withdraw_all()
        await self.running.stop(0.5)
        for close in reversed(self._closers):
            result = close()
            if asyncio.iscoroutine(result):
                await result


async def _until_idle(hub: Hub) -> None:
    while len(hub.sessions):
        await asyncio.sleep(0.05)


def lease_key(service_token: str) -> bytes:
    """Every replica shares the service token, so leases minted by one verify on all."""
    return hashlib.sha256(b"cocore-matchmaker-lease\0" + service_token.encode()).digest()


async def start(
    config: MatchmakerConfig,
    *,
    tokens: TokenVerifier | None = None,
    attestations: AttestationChecker | None = None,
    clock: Callable[[], float] = time.time,
) -> MatchmakerService:
    """Migrate the directory, start serving, and begin syncing with the other replicas."""
    await upgrade(config.database_url, MIGRATIONS)
    db = Database.from_url(config.database_url)
    resolver = IdentityResolver(
        config.plc_url, allow_insecure_loopback=config.allow_insecure_loopback
    )
    checker = attestations or PdsAttestationChecker(resolver, clock)
    pool = Pool(
        config.pool, replica_id=config.replica_id,
        signer=LeaseSigner(lease_key(config.service_token)),
        attestation_max_age_s=config.streams.attestation_max_age_s, clock=clock,
    )  # fmt: skip
    events = MatchmakerEvents()
    hub = Hub(
        pool=pool, streams=config.streams, jobs=config.jobs,
        tokens=tokens or JwtTokenVerifier(config.service_did, resolver),
        attestations=checker, events=events, wall_clock=clock, replica_id=config.replica_id,
    )  # fmt: skip
    directory = ProviderDirectory(db, config.replica_id, config.directory_lease_s, clock)
    peers = Peers(config.service_token, config.replica_id, config.server.max_message_bytes)
    dispatcher = Dispatcher(hub, peers, directory.owner_of)
    credential = ServiceCredential(config.service_token)

    def register(server: grpc.aio.Server) -> list[str]:
        pb_grpc.add_ProviderLinkServicer_to_server(ProviderLinkServicer(hub), server)
        pb_grpc.add_MatchmakerServicer_to_server(
            MatchmakerServicer(hub, dispatcher, credential), server
        )
        return [service_name(pb, "ProviderLink"), service_name(pb, "Matchmaker")]

    running = await start_server(config.server, register)
    running.metrics.registry.register(events.registry)
    directory.address = config.advertise_address or running.address
    sync = DirectorySync(hub, directory, config.directory_sync_s)
    task = asyncio.get_running_loop().create_task(sync.run())
    closers: list[Callable[[], object]] = [db.dispose, resolver.aclose, peers.aclose]
    if isinstance(checker, PdsAttestationChecker):
        closers.append(checker.aclose)
    return MatchmakerService(running, hub, directory, sync, task, closers)
