"""A whole cocore network on loopback for end-to-end tests (bluesky dev-env's TestNetwork).

    net = await TestNetwork.start(atproto_stack, tmp_path, tiny_model_dir)
    user = await net.user()                       # PDS account, logged in, terms accepted
    client = net.openai(user.key)                 # the official AsyncOpenAI client
    await client.chat.completions.create(model=TINY, messages=[…])
    await net.stop()

It runs the real PLC + PDS (the `atproto_stack` fixture), the exchange, the matchmaker, one
provider machine (the real provider agent; `tests/network_machine.py` gives its engine a
scripted model for tool calls and JSON and a stalling one beside the tiny model), the gateway,
and on request an Envoy edge in front of it. Every port is picked free; everything binds
127.0.0.1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cocore.atproto import AtprotoClient
from cocore.proto.exchange.v1 import exchange_pb2 as xpb
from cocore.rpc import ServerConfig
from cocore.storage import sqlite_url
from services.exchange.config import DEV_SERVICE_TOKEN, Config
from services.exchange.policy import PolicyTerms
from services.exchange.server import App, build
from services.gateway.config import GatewayConfig, Limits
from services.gateway.edge import EnvoyEdge
from services.gateway.server import Gateway
from services.gateway.server import start as start_gateway
from services.matchmaker.server import MatchmakerService
from services.provider.agent import Agent
from tests.fixtures.atproto import Account, AtprotoStack
from tests.integration.matchmaker_kit import TOKEN, matchmaker_config
from tests.network_machine import SCRIPTED, STALL, TINY, RecordingEngine, start_machine

__all__ = ["SCRIPTED", "STALL", "TINY", "TestNetwork", "User"]
TERMS_URI, TERMS_VERSION = "https://cocore.test/terms", "v2"


@dataclass
class User:
    account: Account
    did: str
    key: str

    @property
    def client(self) -> AtprotoClient:
        return self.account.client


@dataclass
class TestNetwork:
    stack: AtprotoStack
    exchange: App
    matchmaker: MatchmakerService
    gateway: Gateway
    machine: Agent  # the provider agent, as `cocore-provider serve` runs it
    provider: Account
    edge: EnvoyEdge | None = None
    clients: list[Any] = field(default_factory=list)

    __test__ = False  # not a pytest test class

    @classmethod
    async def start(cls, stack: AtprotoStack, tmp: Path, tiny_model_dir: Path, *,
                    slots: int = 4, **gateway: Any) -> TestNetwork:  # fmt: skip
        exchange = await build(_exchange_config(stack, tmp))
        from services.matchmaker.server import start as start_matchmaker

        matchmaker = await start_matchmaker(matchmaker_config(stack, tmp / "matchmaker.db"))
        provider = await stack.create_account()
        machine = await start_machine(
            stack, provider, tmp / "provider", tiny_model_dir, matchmaker=matchmaker.address,
            exchange_did=str(exchange.exchange.did), slots=slots,
        )  # fmt: skip
        gw = await start_gateway(_gateway_config(stack, tmp, exchange, matchmaker, **gateway))
        return cls(stack, exchange, matchmaker, gw, machine, provider)

    @property
    def engine(self) -> RecordingEngine:
        """The provider's engine: the tiny model, the scripted one and the stalling one."""
        engine = self.machine.engine
        assert isinstance(engine, RecordingEngine)
        return engine

    async def stop(self) -> None:
        for client in self.clients:
            await client.close()
        if self.edge is not None:
            await self.edge.stop()
        await self.gateway.stop()
        await self.machine.stop()
        await self.matchmaker.stop(grace_s=0)
        await self.exchange.stop()

    # ------------------------------------------------------------ users and clients

    @property
    def url(self) -> str:
        return self.gateway.url

    async def start_edge(self, tmp: Path) -> EnvoyEdge:
        if self.edge is None:
            self.edge = await EnvoyEdge.start(
                tmp, gateway_port=self.gateway.http_port, authz_port=self.gateway.authz.port
            )
        return self.edge

    async def user(self, *, terms: bool = True) -> User:
        """A PDS account stored with the gateway (it minted a key) and, by default, terms."""
        import httpx

        account = await self.stack.create_account()
        async with httpx.AsyncClient(base_url=self.url) as http:
            r = await http.post("/v1/account/login", json={
                "identifier": account.handle, "password": account.password})  # fmt: skip
            r.raise_for_status()
            key = r.json()["secret"]
            if terms:
                r = await http.post("/v1/account/accept-terms", json={},
                                    headers={"authorization": f"Bearer {key}"})  # fmt: skip
                r.raise_for_status()
        return User(account, str(account.client.did), key)

    def openai(self, key: str, base: str | None = None, **options: Any) -> Any:
        from openai import AsyncOpenAI

        client = AsyncOpenAI(api_key=key, base_url=(base or self.url) + "/v1", max_retries=0,
                             **options)  # fmt: skip
        self.clients.append(client)  # closed by stop()
        return client

    async def balance(self, did: str) -> int:
        stub = self.gateway.ctx.exchange.stub
        r = await stub.GetBalance(
            xpb.GetBalanceRequest(did=did),
            metadata=(("authorization", f"Bearer {DEV_SERVICE_TOKEN}"),
                      ("x-cocore-actor-did", did)),
        )  # fmt: skip
        return int(r.balance)

    async def balances(self, *dids: str) -> list[int]:
        return [await self.balance(d) for d in dids]

    @property
    def treasury(self) -> str:
        return str(self.exchange.exchange.policies.current.terms.treasury_did or
                   self.exchange.exchange.did)  # fmt: skip


def _exchange_config(stack: AtprotoStack, tmp: Path) -> Config:
    handle = stack.new_handle()
    return Config(
        server=ServerConfig(metrics_port=None, grace_s=1), db_url=sqlite_url(tmp / "exchange.db"),
        pds_url=stack.pds_url, plc_url=stack.plc_url, handle=handle,
        email=f"{handle}@example.com", key_dir=tmp / "exchange-keys", firehoses=(),
        terms=PolicyTerms(terms_uri=TERMS_URI, terms_version=TERMS_VERSION),
        expire_interval_s=0, reconcile_interval_s=0,
    )  # fmt: skip


def _gateway_config(stack: AtprotoStack, tmp: Path, exchange: App,
                    matchmaker: MatchmakerService, **overrides: Any) -> GatewayConfig:  # fmt: skip
    values: dict[str, Any] = {
        "server": ServerConfig(metrics_port=None, grace_s=1),
        "db_url": sqlite_url(tmp / "gateway.db"), "http_port": 0,
        "exchange_address": exchange.running.address, "exchange_token": DEV_SERVICE_TOKEN,
        "matchmaker_address": matchmaker.address, "matchmaker_token": TOKEN,
        "plc_url": stack.plc_url, "pds_url": stack.pds_url, "settle_wait_ms": 15000,
        "receipt_wait_s": 15.0, "limits": Limits(max_tokens_cap=2_000_000),
    }  # fmt: skip
    values.update(overrides)
    return GatewayConfig(**values)
