"""The matchmaker's configuration: the only reader of COCORE_MATCHMAKER_* variables.

| variable (prefix COCORE_MATCHMAKER_) | default | meaning |
|---|---|---|
| ENV | dev | `dev` or `prod`; prod refuses placeholder secrets |
| SERVICE_DID | did:web:matchmaker.cocore.localhost | the `aud` provider JWTs must carry |
| SERVICE_TOKEN | dev placeholder (dev only) | the credential gateways and peer replicas present |
| PLC_URL | http://127.0.0.1:2582 | DID resolution for provider DIDs |
| ALLOW_INSECURE_LOOPBACK | true in dev | resolve did:web on http loopback |
| DATABASE_URL | sqlite:///var/matchmaker.sqlite | the shared provider directory |
| REPLICA_ID | hostname + random suffix | this replica's name in the directory |
| ADVERTISE_ADDRESS | the bound address | where peer replicas reach this one |
| DIRECTORY_LEASE_S / DIRECTORY_SYNC_S | 15 / 2 | directory lease and sync interval |
| GRPC_HOST, GRPC_PORT, METRICS_PORT, … | see cocore.rpc.ServerConfig | the gRPC server |
| STAGE_LOG | false | log per-job stage timings (`cocore.matchmaker.stages`, DEBUG lines) |
| any field of Stream/Job/PoolSettings in upper case | settings.py | e.g. FIRST_CHUNK_TIMEOUT_S |
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from cocore.rpc import ConfigError, ServerConfig

from .settings import JobSettings, PoolSettings, StreamSettings

PREFIX = "COCORE_MATCHMAKER_"
DEV_TOKEN = "dev-matchmaker-token-not-secret"  # noqa: S105 (a documented dev placeholder)
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class MatchmakerConfig:
    server: ServerConfig = field(default_factory=ServerConfig)
    env: str = "dev"
    service_did: str = "did:web:matchmaker.cocore.localhost"
    service_token: str = DEV_TOKEN
    plc_url: str = "http://127.0.0.1:2582"
    allow_insecure_loopback: bool = True
    database_url: str = "sqlite+aiosqlite:///var/matchmaker.sqlite"
    replica_id: str = field(
        default_factory=lambda: f"{socket.gethostname()}-{secrets.token_hex(3)}"
    )
    advertise_address: str = ""
    directory_lease_s: float = 15.0
    directory_sync_s: float = 2.0
    stage_log: bool = False
    streams: StreamSettings = field(default_factory=StreamSettings)
    jobs: JobSettings = field(default_factory=JobSettings)
    pool: PoolSettings = field(default_factory=PoolSettings)

    def __post_init__(self) -> None:
        if self.env not in ("dev", "prod"):
            raise ConfigError(f"{PREFIX}ENV must be dev or prod")
        if self.env != "dev" and (self.service_token == DEV_TOKEN or len(self.service_token) < 24):
            raise ConfigError(
                f"{PREFIX}SERVICE_TOKEN must be a real secret (24+ chars) outside dev"
            )
        if not 0 < self.directory_sync_s < self.directory_lease_s:
            raise ConfigError("the directory must sync more often than its lease expires")
        if self.jobs.max_input_bytes + self.jobs.max_spec_json_bytes * 2 >= (
            self.server.max_message_bytes
        ):
            raise ConfigError("MAX_INPUT_BYTES must leave room under MAX_MESSAGE_BYTES")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> MatchmakerConfig:
        env = environ.get(PREFIX + "ENV", "dev")
        values: dict[str, Any] = {"server": ServerConfig.from_env(environ, PREFIX), "env": env}
        for name in ("service_did", "service_token", "plc_url", "database_url", "replica_id",
                     "advertise_address"):  # fmt: skip
            if raw := environ.get(PREFIX + name.upper(), "").strip():
                values[name] = raw
        if raw := environ.get(PREFIX + "STAGE_LOG", "").strip():
            values["stage_log"] = raw.lower() in ("1", "true", "yes")
        if raw := environ.get(PREFIX + "ALLOW_INSECURE_LOOPBACK", "").strip():
            values["allow_insecure_loopback"] = raw.lower() in ("1", "true", "yes")
        elif env != "dev":
            values["allow_insecure_loopback"] = False
        for name in ("directory_lease_s", "directory_sync_s"):
            if raw := environ.get(PREFIX + name.upper(), "").strip():
                values[name] = _parse(name, raw, float)
        values["streams"] = _settings(StreamSettings, environ)
        values["jobs"] = _settings(JobSettings, environ)
        values["pool"] = _settings(PoolSettings, environ)
        return cls(**values)


def _default_replica_id() -> str:
    return f"{socket.gethostname()}-{secrets.token_hex(3)}"


def _settings(kind: type[_T], environ: Mapping[str, str]) -> _T:
    values = {}
    for f in fields(kind):  # type: ignore[arg-type]
        raw = environ.get(PREFIX + f.name.upper(), "").strip()
        if raw:
            values[f.name] = _parse(f.name, raw, float if f.type == "float" else int)
    return kind(**values)


def _parse(name: str, raw: str, parser: type) -> Any:
    try:
        value = parser(raw)
    except ValueError:
        raise ConfigError(f"{PREFIX}{name.upper()} is not a number: {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{PREFIX}{name.upper()} must be positive")
    return value
