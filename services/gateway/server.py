"""Wiring: build the gateway's parts from its config, serve HTTP (uvicorn) and ext_authz (gRPC)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import grpc
import uvicorn
from envoy.service.auth.v3 import external_auth_pb2, external_auth_pb2_grpc

from cocore.atproto import IdentityResolver, ServiceAuthVerifier
from cocore.rpc import RunningServer, service_name, start_server
from cocore.storage import Database, upgrade

from . import events
from .accounts import AccountStore
from .config import GatewayConfig
from .credentials import CredentialBox
from .exchange_client import ExchangeClient
from .extauthz import EdgeAuthorizer
from .friends import Friends
from .http.app import Context, build_app
from .http.auth import Authenticator
from .http.models import ModelDirectory
from .keys import KeyStore
from .matchmaker_client import MatchmakerClient
from .outbox import Outbox
from .paid import PaidPath
from .policy import PolicySource
from .ratelimit import RateLimiter
from .receipt_feed import ReceiptFeed
from .replay import ReplayGuard
from .repos import RepoReader
from .settle import Settler
from .terms import TermsGate

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
JWT_MAX_LIFETIME_S = 300  # service-auth tokens for key management live at most 5 minutes
FLUSH_INTERVAL_S = 10.0
# Idle HTTP connections stay open this long: longer than the edge's upstream idle timeout (60 s,
# envoy.yaml), so Envoy always closes first and never sends on a connection closing here.
KEEP_ALIVE_S = 75


def utc_now() -> datetime:
    return datetime.now(UTC)


class _QuietServer(uvicorn.Server):
    """uvicorn without its signal handlers: the process (or test) owns shutdown."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class Gateway:
    config: GatewayConfig
    ctx: Context
    authz: RunningServer
    http: uvicorn.Server
    http_task: asyncio.Task[None]
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def http_port(self) -> int:
        return int(self.http.servers[0].sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://{self.config.http_host}:{self.http_port}"

    async def stop(self) -> None:
        """Stop taking requests, let settlements finish, flush key usage, close clients."""
        self.http.should_exit = True
        await asyncio.gather(self.http_task, return_exceptions=True)
        await self.authz.stop()
        await self.ctx.paid.settler.drain(timeout_s=5.0)
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.ctx.keys.flush()
        await self.ctx.accounts.aclose()
        await self.ctx.paid.terms.repos.aclose()
        await self.ctx.exchange.aclose()
        await self.ctx.paid.matchmaker.aclose()
        await self.ctx.resolver.aclose()
        await self.ctx.keys.db.dispose()


def build_context(config: GatewayConfig, clock: Callable[[], datetime] = utc_now) -> Context:
    db = Database.from_url(config.db_url)
    resolver = IdentityResolver(config.plc_url, allow_insecure_loopback=config.dev)
    keys = KeyStore(db, clock, cache_ttl_s=config.key_cache_ttl_s)
    box = CredentialBox(config.credentials_key_bytes, config.credentials_old_key_bytes)
    accounts = AccountStore(db, box, clock, resolver)
    exchange = ExchangeClient(config.exchange_address, config.exchange_token)
    matchmaker = MatchmakerClient(config.matchmaker_address, config.matchmaker_token)
    repos = RepoReader(resolver)
    outbox = Outbox(db, accounts, clock)
    paid = PaidPath(
        policies=PolicySource(exchange.policy), terms=TermsGate(repos, config.terms_cache_s),
        friends=Friends(repos), keys=keys, limiter=RateLimiter(), exchange=exchange,
        matchmaker=matchmaker, outbox=outbox,
        settler=Settler(exchange, repos, receipt_wait_s=config.receipt_wait_s,
                        feed=ReceiptFeed(config.appview_address) if config.appview_address
                        else None), clock=clock,
        job_ttl_s=config.job_ttl_s, hold_ttl_s=config.hold_ttl_s,
        failover_candidates=config.failover_candidates, default_rpm=config.default_rpm,
        default_tpm=config.default_tpm, end_user_key=config.credentials_key_bytes,
    )  # fmt: skip
    verifier = ServiceAuthVerifier(config.service_did, resolver, max_lifetime_s=JWT_MAX_LIFETIME_S)
    auth = Authenticator(keys, config.edge_secret, verifier, ReplayGuard())
    return Context(config=config, auth=auth, paid=paid, keys=keys, accounts=accounts,
                   outbox=outbox, exchange=exchange, models=ModelDirectory(matchmaker),
                   resolver=resolver, salt_input=config.salt_input)  # fmt: skip


async def start(config: GatewayConfig, clock: Callable[[], datetime] = utc_now) -> Gateway:
    if config.migrate:
        await upgrade(config.db_url, MIGRATIONS)
    ctx = build_context(config, clock)
    authorizer = EdgeAuthorizer(ctx.keys, config.edge_secret)

    def register(server: grpc.aio.Server) -> list[str]:
        external_auth_pb2_grpc.add_AuthorizationServicer_to_server(authorizer, server)
        return [service_name(external_auth_pb2, "Authorization")]

    authz = await start_server(config.server, register)
    events.install(authz.metrics.registry)
    http = _QuietServer(uvicorn.Config(
        build_app(ctx), host=config.http_host, port=config.http_port, lifespan="off",
        access_log=False, log_level="warning", timeout_graceful_shutdown=10,
        http=config.http_parser, timeout_keep_alive=KEEP_ALIVE_S,
    ))  # fmt: skip
    http_task = asyncio.create_task(http.serve(), name="gateway-http")
    while not http.started:
        if http_task.done():
            await authz.stop()
            await http_task  # raises the bind error
            raise RuntimeError("the HTTP server stopped while starting")
        await asyncio.sleep(0.01)
    gateway = Gateway(config, ctx, authz, http, http_task)
    gateway.tasks += [
        asyncio.create_task(ctx.outbox.run(), name="gateway-outbox"),
        asyncio.create_task(_flush_keys(ctx.keys), name="gateway-key-usage"),
    ]
    if (feed := ctx.paid.settler.feed) is not None:
        gateway.tasks.append(asyncio.create_task(feed.run(), name="gateway-receipt-feed"))
    if ctx.accounts.box.rotating:
        gateway.tasks.append(asyncio.create_task(_reseal(ctx.accounts), name="gateway-reseal"))
    return gateway


async def _reseal(accounts: AccountStore) -> None:
    """After a credentials-key rotation: every login under an old key moves to the new one."""
    done = await accounts.reseal_all()
    events.credentials_resealed(done.current, done.resealed, done.unreadable)


async def _flush_keys(keys: KeyStore) -> None:
    while True:
        await asyncio.sleep(FLUSH_INTERVAL_S)
        with contextlib.suppress(Exception):  # a failed flush keeps nothing; usage is advisory
            await keys.flush()
