"""The serving agent: boot (records, engine, attestation), serve through the link, drain.

Boot order: log in → open the outbox (and resume publishing what a previous run left) → read
the exchange's tokenRate → publish the provider record as `provisioning` → load the models →
publish a fresh attestation → publish the record as `serving` with what actually loaded →
connect. `stop()` drains running jobs, queues their receipts, publishes `serving: false`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import cocore
from cocore.atproto import AtprotoClient, AtprotoError, IdentityResolver, get_service_auth
from cocore.keystore import KeyDir
from cocore.syntax import parse_did, parse_nsid

from . import credentials, events
from . import status as status_file
from .config import ProviderConfig
from .engine import EngineConfig, EngineFault, LocalEngine, ModelSpec, load_engine
from .errors import ConfigError, NothingToServe, PolicyUnavailable
from .home import Home
from .host import HostFacts, measure, measure_sip
from .link import (
    CONNECT_LXM,
    LinkIdentity,
    LinkSettings,
    LoadReport,
    Posture,
    ProBono,
    ProviderLink,
)
from .link import ModelSpec as LinkModel
from .models import list_models
from .outbox import Outbox, Publisher
from .records.attestation import AttestationKeeper, code_hash
from .records.pricing import TokenRate, fetch_rate
from .records.provider_fields import MachineState, provider_fields
from .records.provider_record import ProviderRecord
from .serving.runner import EngineRunner, RunnerSettings
from .watch import Watchers

log = logging.getLogger("cocore.provider")
Clock = Callable[[], datetime]
POSTURE_TTL_S = 60.0
EngineLoader = Callable[[EngineConfig], Awaitable[LocalEngine]]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Agent:
    def __init__(
        self,
        config: ProviderConfig,
        *,
        clock: Clock = utc_now,
        facts: HostFacts | None = None,
        engine_loader: EngineLoader = load_engine,
    ) -> None:
        if not config.exchange_did:
            raise ConfigError("exchange_did is not set: `cocore-provider init --exchange-did DID`")
        self.config = config
        self.home = Home(config.home)
        self.clock = clock
        self.facts = facts or measure()
        self._engine_loader = engine_loader
        self.keys: KeyDir = self.home.keys()
        self.phase = "starting"
        self.pro_bono = ProBono()
        self.active = True
        self.faults: dict[str, EngineFault] = {}
        self.loaded: tuple[str, ...] = ()
        self.outbox_counts: dict[str, Any] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        self._stopping = asyncio.Event()
        self._posture_cache = Posture()
        self._posture_at = -POSTURE_TTL_S

    # ------------------------------------------------------------ boot

    async def start(self) -> None:
        creds = credentials.load(self.home, self.facts.machine_uuid)
        self.client = await AtprotoClient.login(creds.pds_url, creds.identifier, creds.password)
        self.resolver = IdentityResolver(self.config.plc_url, allow_insecure_loopback=True)
        self.outbox = await Outbox.open(self.home.outbox_file, self.clock)
        if dropped := await self.outbox.drop_held():
            log.info("dropped %d receipts whose delivery a previous run never learned", dropped)
        self.publisher = Publisher(self.outbox, self.client)
        self._spawn(self.publisher.run())
        self.phase = "provisioning"
        await self.write_status()
        self.rate = await self.read_rate()
        self.record = ProviderRecord(
            self.client,
            self.keys.signing.public_key.to_cocore_b64(),
            cached_rkey=self._cached_rkey(),
        )
        specs = self._model_specs()
        if not self._configured_ids():
            raise NothingToServe(
                f"no model in {self.config.model_root}: `cocore-provider models tiny|convert`"
            )
        await self.publish_record(
            MachineState(tuple(s.id for s in specs), True, False, self.faults)
        )
        self.engine = await self._engine_loader(EngineConfig(tuple(specs)))
        self.faults.update(self.engine.faults())
        self.loaded = tuple(m.id for m in self.engine.models())
        if not self.loaded:
            await self.publish_record(self.state(serving=False, models=self._configured_ids()))
            raise NothingToServe("no model loaded; see `cocore-provider doctor`")
        await self._start_serving()

    async def _start_serving(self) -> None:
        self.keeper = AttestationKeeper(
            self.client, self.keys, self.facts, code=code_hash(), clock=self.clock,
            validity_s=self.config.attestation_s, renew_before_s=self.config.renew_before_s,
        )  # fmt: skip
        await self.keeper.publish()
        self.runner = EngineRunner(
            self.engine, self.keys, self.client.did, attestation=self.keeper,
            rate=lambda: self.rate, pro_bono=lambda: self.pro_bono, outbox=self.outbox,
            publisher=self.publisher, clock=self.clock,
            settings=RunnerSettings(self.config.flush_ms / 1000, self.config.flush_tokens),
        )  # fmt: skip
        published = await self.publish_record(self.state(serving=True))
        self._owner_fields(published.value)
        self.link = ProviderLink(
            self._identity(), self._link_settings(), self.runner, self._token,
            load=self._load, posture=self._posture,
        )  # fmt: skip
        self.keeper.listeners.append(self._on_attestation)
        self.phase = "serving"
        self._spawn(self.link.run())
        self.watchers = Watchers(self, self._stopping)
        for loop in self.watchers.loops():
            self._spawn(loop)

    # ------------------------------------------------------------ shutdown

    async def stop(self) -> None:
        """Drain (running jobs finish), queue their receipts, publish `serving: false`."""
        self.phase = "draining"
        link = getattr(self, "link", None)
        if link is not None:
            await link.drain(self.config.drain_timeout_s)
        runner = getattr(self, "runner", None)
        if runner is not None:
            await runner.wait_released()
        self._stopping.set()
        if hasattr(self, "publisher"):
            self.publisher.stop()
        if self._tasks:  # loops end after their current step; cancel only a stuck one
            _, stuck = await asyncio.wait(self._tasks, timeout=30)
            for task in stuck:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if hasattr(self, "record") and self.loaded:
            with contextlib.suppress(AtprotoError):
                await asyncio.wait_for(self.publish_record(self.state(serving=False)), 10)
        if hasattr(self, "publisher"):
            await self.publisher.flush(5.0)
        await self._close()
        self.phase = "stopped"
        await self.write_status()

    async def _close(self) -> None:
        if hasattr(self, "engine"):
            await self.engine.stop()
        if hasattr(self, "outbox"):
            await self.outbox.close()
        if hasattr(self, "resolver"):
            await self.resolver.aclose()
        if hasattr(self, "client"):
            await self.client.aclose()

    # ------------------------------------------------------------ records

    def state(self, *, serving: bool, models: tuple[str, ...] | None = None) -> MachineState:
        fault = self.keeper.fault if hasattr(self, "keeper") else ""
        return MachineState(models or self.loaded, False, serving, self.faults, fault)

    async def publish_record(self, state: MachineState) -> Any:
        fields = provider_fields(
            self.facts, self.keys, self.client.did, label=self.config.machine_label,
            binary_version=cocore.__version__, rate=self.rate, state=state, now=self.clock(),
        )  # fmt: skip
        published = await self.record.publish(fields)
        await self.home.save_json(self.home.record_cache_file, {
            "did": self.client.did, "attestationPubKey": fields["attestationPubKey"],
            "rkey": str(published.rkey),
        })  # fmt: skip
        events.record_written("provider", f"serving={state.serving} models={len(state.models)}")
        return published

    def _cached_rkey(self) -> str | None:
        cache = self.home.read_json(self.home.record_cache_file) or {}
        key = self.keys.signing.public_key.to_cocore_b64()
        if cache.get("did") == self.client.did and cache.get("attestationPubKey") == key:
            rkey = cache.get("rkey")
            return rkey if isinstance(rkey, str) else None
        return None

    def _owner_fields(self, record: dict[str, Any]) -> bool:
        """Apply the owner's live fields (proBono, active); True when something changed."""
        raw = record.get("proBono")
        policy = ProBono()
        if isinstance(raw, dict) and raw.get("mode") in ("any", "direct"):
            dids = raw.get("dids")
            policy = ProBono(
                str(raw["mode"]), tuple(str(d) for d in dids or () if isinstance(d, str))
            )
        active = record.get("active", True) is not False
        changed = policy != self.pro_bono or active != self.active
        self.pro_bono, self.active = policy, active
        return changed

    async def read_rate(self) -> TokenRate:
        """The exchange's tokenRate, cached on disk so an exchange PDS outage does not stop us."""
        try:
            rate = await fetch_rate(self.resolver, parse_did(self.config.exchange_did))
        except PolicyUnavailable:
            cached = self.home.read_json(self.home.policy_cache_file)
            if cached is None or cached.get("exchange") != self.config.exchange_did:
                raise
            log.warning("exchange policy unreachable; using the cached tokenRate")
            return TokenRate.from_json(cached)
        await self.home.save_json(
            self.home.policy_cache_file, {**rate.to_json(), "exchange": self.config.exchange_did}
        )
        return rate

    # ------------------------------------------------------------ engine and link

    def _configured_ids(self) -> tuple[str, ...]:
        if self.config.models:
            return self.config.models
        return tuple(m.id for m in list_models(self.config.model_root) if m.usable)

    def _model_specs(self) -> list[ModelSpec]:
        specs = []
        for model_id in self._configured_ids():
            path = self.config.model_root / model_id
            if not path.is_dir():
                self.faults[model_id] = EngineFault(
                    model_id, "model-load-failed", f"no model directory {model_id} in models_dir"
                )
                continue
            specs.append(ModelSpec(model_id, path, slots=self.config.slots))
        return specs

    def _identity(self) -> LinkIdentity:
        keys = self.keys
        return LinkIdentity(
            did=self.client.did, machine_id=str(self.record.rkey),
            attestation_key=keys.signing, attestation=self.keeper.current.ref,  # type: ignore[union-attr]
            encryption_pub_key=keys.encryption.public_key_b64, enc_scheme=keys.encryption.scheme,
        )  # fmt: skip

    def link_models(self) -> tuple[LinkModel, ...]:
        if not self.active:
            return ()  # the owner paused this machine: stay connected, take no jobs
        return tuple(
            LinkModel(m.id, m.context_length, m.supports_tools) for m in self.engine.models()
        )

    def _link_settings(self) -> LinkSettings:
        return LinkSettings(
            address=self.config.matchmaker, models=self.link_models(),
            slots=self.config.slots * max(1, len(self.loaded)),
            binary_version=cocore.__version__, country=self.config.country,
            pro_bono=self.pro_bono, machine_label=self.config.machine_label,
            tls=self.config.matchmaker_uses_tls, ca_file=self.config.matchmaker_ca,
        )  # fmt: skip

    async def _token(self) -> str:
        return await get_service_auth(
            self.client, self.config.matchmaker_did, parse_nsid(CONNECT_LXM)
        )

    def _load(self) -> LoadReport:
        total = self.config.slots * max(1, len(self.loaded))
        free = self.engine.free_slots()
        return LoadReport(load=max(0.0, min(1.0, 1 - free / total)))

    def _posture(self) -> Posture:
        """Measured for each challenge (cached a minute), never assumed: the reference
        answers `sipEnabled: true` whatever the machine is."""
        now = time.monotonic()
        if now - self._posture_at > POSTURE_TTL_S:
            self._posture_cache = Posture(sip_enabled=measure_sip())
            self._posture_at = now
        return self._posture_cache

    def _on_attestation(self, ref: Any) -> None:
        self.link.update_attestation(ref)
        att = self.keeper.current
        if att is not None:
            events.attestation_renewed(ref.uri, str(att.record["expiresAt"]))

    # ------------------------------------------------------------ status

    def _spawn(self, coro: Awaitable[Any]) -> None:
        self._tasks.append(asyncio.ensure_future(coro))

    def status(self) -> dict[str, Any]:
        link = getattr(self, "link", None)
        keeper = getattr(self, "keeper", None)
        att = keeper.current if keeper else None
        out: dict[str, Any] = {
            "phase": self.phase, "updatedAt": self.clock().isoformat(),
            "did": str(self.client.did) if hasattr(self, "client") else None,
            "machineId": str(self.record.rkey) if hasattr(self, "record") else None,
            "matchmaker": self.config.matchmaker,
            "connected": bool(link and link.status.connected),
            "lastError": link.status.last_error if link else "",
            "standing": link.status.standing if link else "",
            "jobsRunning": link.jobs.running() if link else 0,
            "models": list(self.loaded), "active": self.active,
            "faults": {m: f"{f.code}: {f.message}" for m, f in self.faults.items()},
            "attestation": {"uri": att.ref.uri if att else None,
                            "expiresAt": att.record["expiresAt"] if att else None,
                            "fault": keeper.fault if keeper else ""},
            "outbox": dict(self.outbox_counts),
        }  # fmt: skip
        return out

    async def write_status(self) -> None:
        with contextlib.suppress(OSError):
            await status_file.write(self.home, self.status())
