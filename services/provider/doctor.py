"""`cocore-provider doctor`: each check a ✓/✗ line with a remedy; nothing here changes state."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cocore.atproto import AtprotoClient, AtprotoError, IdentityResolver
from cocore.errors import CocoreError, InvalidInput, Unauthenticated
from cocore.lexicon import ids
from cocore.rpc.tls import open_channel
from cocore.syntax import parse_datetime, parse_did

from . import credentials
from . import status as status_file
from .config import ProviderConfig
from .home import Home
from .host import HostFacts
from .models import list_models
from .records.pricing import fetch_rate

MAX_SKEW_S = 30.0  # service-auth tokens tolerate this much


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool | None  # None: informational, not a failure
    detail: str
    remedy: str = ""

    def line(self) -> str:
        mark = {True: "✓", False: "✗", None: "•"}[self.ok]
        text = f"{mark} {self.name}: {self.detail}"
        return f"{text}\n    → {self.remedy}" if self.remedy and self.ok is False else text


class Doctor:
    def __init__(self, config: ProviderConfig, facts: HostFacts, *, load_models: bool) -> None:
        self.config = config
        self.home = Home(config.home)
        self.facts = facts
        self.load_models = load_models
        self.client: AtprotoClient | None = None
        self.pds_url = ""

    async def run(self) -> list[Check]:
        steps: list[Callable[[], Awaitable[Check]]] = [
            self.keys, self.login, self.clock, self.matchmaker, self.policy, self.models,
            self.attestation, self.outbox,
        ]  # fmt: skip
        checks = []
        try:
            for step in steps:
                checks.append(await step())
        finally:
            if self.client is not None:
                await self.client.aclose()
        return checks

    async def keys(self) -> Check:
        try:
            keys = self.home.keys()
        except CocoreError as e:
            return Check("keys", False, e.message, "run `cocore-provider init`")
        return Check("keys", True, f"{keys.path} (owner-only), signing key {_short(keys)}")

    async def login(self) -> Check:
        try:
            creds = credentials.load(self.home, self.facts.machine_uuid)
        except CocoreError as e:
            return Check(
                "PDS login", False, e.message, "run `cocore-provider login HANDLE --pds URL`"
            )
        self.pds_url = creds.pds_url
        try:
            self.client = await AtprotoClient.login(creds.pds_url, creds.identifier, creds.password)
        except AtprotoError as e:
            remedy = "check the PDS URL and that it is running"
            if isinstance(e, Unauthenticated):
                remedy = "the app password was refused: run `cocore-provider login` again"
            return Check("PDS login", False, f"{creds.pds_url}: {e.message}", remedy)
        return Check("PDS login", True, f"{self.client.did} at {creds.pds_url}")

    async def clock(self) -> Check:
        if not self.pds_url:
            return Check("clock skew", None, "skipped (no PDS to compare with)")
        try:
            async with httpx.AsyncClient(timeout=5, trust_env=False) as http:
                sent = time.time()
                response = await http.get(self.pds_url.rstrip("/") + "/xrpc/_health")
                received = time.time()
            server = parsedate_to_datetime(response.headers["date"]).timestamp()
        except (httpx.HTTPError, KeyError, ValueError, TypeError):
            return Check("clock skew", None, "the PDS sent no usable Date header")
        skew = server - (sent + received) / 2
        if abs(skew) > MAX_SKEW_S:
            remedy = "turn on network time (NTP): tokens and receipts need a true clock"
            return Check("clock skew", False, f"{skew:+.0f} s against the PDS", remedy)
        return Check("clock skew", True, f"{skew:+.1f} s against the PDS (±1 s resolution)")

    async def matchmaker(self) -> Check:
        address = self.config.matchmaker
        try:
            channel = open_channel(address, tls=self.config.matchmaker_uses_tls,
                                   ca_file=self.config.matchmaker_ca)  # fmt: skip
            async with channel:
                stub = health_pb2_grpc.HealthStub(channel)
                reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
        except grpc.aio.AioRpcError as e:
            tls = "TLS" if self.config.matchmaker_uses_tls else "plaintext"
            return Check("matchmaker", False, f"{address} ({tls}): {e.code().name}",
                         "check `matchmaker` and `matchmaker_tls` in config.toml and that it "
                         "is running")  # fmt: skip
        except InvalidInput as e:
            return Check("matchmaker", False, e.message, "fix `matchmaker_ca_file`")
        serving = reply.status == health_pb2.HealthCheckResponse.SERVING
        return Check("matchmaker", serving, f"{address} health {reply.status}",
                     "the matchmaker is up but not serving; try again shortly")  # fmt: skip

    async def policy(self) -> Check:
        if not self.config.exchange_did:
            return Check("exchange policy", False, "exchange_did is not set",
                         "`cocore-provider init --exchange-did DID`")  # fmt: skip
        async with IdentityResolver(self.config.plc_url, allow_insecure_loopback=True) as resolver:
            try:
                rate = await fetch_rate(resolver, parse_did(self.config.exchange_did))
            except CocoreError as e:
                return Check("exchange policy", False, e.message,
                             "check exchange_did and plc_url in config.toml")  # fmt: skip
        text = f"tokenRate {rate.in_per_mtok}/{rate.out_per_mtok} {rate.currency} per MTok"
        return Check("exchange policy", True, text)

    async def models(self) -> Check:
        found = {m.id: m for m in list_models(self.config.model_root)}
        wanted = self.config.models or tuple(m for m in found if found[m].usable)
        if not wanted:
            return Check("models", False, f"no usable model in {self.config.model_root}",
                         "`cocore-provider models tiny DIR` or `models convert`")  # fmt: skip
        bad = [f"{m}: {found[m].problem if m in found else 'missing'}"
               for m in wanted if m not in found or not found[m].usable]  # fmt: skip
        if bad:
            return Check("models", False, "; ".join(bad), "fix or remove them from `models`")
        if not self.load_models:
            return Check("models", True, f"{', '.join(wanted)} (not loaded: --no-load)")
        return await _load_check(self.config, wanted)

    async def attestation(self) -> Check:
        live = status_file.read(self.home)
        now = datetime.now(UTC)
        if status_file.is_live(live, now):
            expires = (live or {}).get("attestation", {}).get("expiresAt")
            left = _hours_left(expires, now)
            ok = left is not None and left * 3600 > 0
            return Check("attestation", ok, f"valid until {expires}" if ok else "expired",
                         "the agent renews it; see `status` for the renewal error")  # fmt: skip
        return await self._published_attestation(now)

    async def _published_attestation(self, now: datetime) -> Check:
        if self.client is None or not self.home.has_keys():
            return Check("attestation", None, "not checked (no login)")
        key = self.home.keys().signing.public_key.to_cocore_b64()
        latest = None
        async for view in self.client.iter_records(self.client.did, ids.COMPUTE_ATTESTATION):
            if view.value.get("publicKey") == key:
                latest = view.value.get("expiresAt")
                break
        left = _hours_left(latest, now)
        if left is None or left <= 0:
            return Check("attestation", None, "none valid now; `serve` publishes one at start")
        return Check("attestation", True, f"valid until {latest} ({left:.1f} h left)")

    async def outbox(self) -> Check:
        live = status_file.read(self.home) or {}
        box = live.get("outbox") or {}
        if box.get("failed"):
            return Check("receipt outbox", False, f"{box['failed']} receipts refused by the PDS",
                         "see the serve log for the error code")  # fmt: skip
        return Check("receipt outbox", True, f"{box.get('pending', 0)} waiting to publish")


async def _load_check(config: ProviderConfig, wanted: tuple[str, ...]) -> Check:
    from .engine import EngineConfig, ModelSpec, load_engine  # noqa: PLC0415 — imports mlx

    specs = tuple(ModelSpec(m, config.model_root / m, slots=1) for m in wanted)
    engine = await load_engine(EngineConfig(specs))
    try:
        faults = engine.faults()
        loaded = [m.id for m in engine.models()]
    finally:
        await engine.stop()
    if faults:
        detail = "; ".join(f"{f.model}: {f.code}" for f in faults.values())
        return Check("model load", False, detail, "rebuild the model directory")
    return Check("model load", True, f"{', '.join(loaded)} loaded")


def _short(keys: object) -> str:
    text = keys.signing.public_key.to_cocore_b64()  # type: ignore[attr-defined]
    return f"{text[:12]}…"


def _hours_left(stamp: object, now: datetime) -> float | None:
    if not isinstance(stamp, str):
        return None
    try:
        return (parse_datetime(stamp).value - now).total_seconds() / 3600
    except CocoreError:
        return None
