"""The gateway's configuration: `COCORE_GATEWAY_*` variables, read once, typed and checked.

| variable | default | meaning |
|---|---|---|
| ENV | dev | `dev` or `prod`; prod refuses placeholder secrets |
| DB_URL | var/gateway/gateway.db (SQLite) | accounts, key hashes, the record outbox |
| MIGRATE | 1 | upgrade the schema at start-up |
| HTTP_HOST / HTTP_PORT | 127.0.0.1 / 2596 | the OpenAI-compatible HTTP API (0: a free port) |
| GRPC_HOST / GRPC_PORT, METRICS_PORT, … | `cocore.rpc.ServerConfig` | ext_authz (gRPC) |
| SERVICE_DID | did:web:gateway.cocore.test | `aud` of service-auth JWTs (key procedures) |
| EXCHANGE_ADDRESS / EXCHANGE_TOKEN | 127.0.0.1:2591 / dev token | the exchange |
| MATCHMAKER_ADDRESS / MATCHMAKER_TOKEN | 127.0.0.1:2592 / dev token | the matchmaker |
| PLC_URL / PDS_URL | http://127.0.0.1:2582 / :2583 | DIDs; the PDS that resolves handles |
| CREDENTIALS_KEY | dev key | base64 of 32 bytes: AES-GCM key of stored PDS logins |
| CREDENTIALS_OLD_KEYS | — | `key,key`: earlier CREDENTIALS_KEYs, still opened; re-sealed at start |
| EDGE_SECRET | dev secret | what Envoy's ext_authz adds so the gateway trusts `x-cocore-did` |
| MAX_BODY_BYTES | 4194304 | request bodies past this are a 413 |
| DEFAULT_MAX_TOKENS / MAX_TOKENS_CAP | 1024 / 32768 | `max_tokens` when absent / its ceiling |
| JOB_TTL_S | 3600 | job and paymentAuthorization lifetime (`expiresAt`) |
| HOLD_TTL_S | 900 | how long an exchange hold lives if nobody releases it |
| SETTLE_WAIT_MS | 0 | non-streaming: wait this long for the settlement before answering |
| APPVIEW_ADDRESS | — | an AppView (host:port) whose feed brings receipts (else: PDS polls) |
| RECEIPT_WAIT_S | 60 | how long the settler looks for a job's receipt |
| FAILOVER_CANDIDATES | 3 | providers tried before the first chunk (1..5) |
| KEY_CACHE_TTL_S | 30 | API-key lookups cached this long (revocation here is immediate) |
| DEFAULT_RPM / DEFAULT_TPM | 600 / 1000000 | per-key limits when a key sets none (0: unlimited) |
| TERMS_CACHE_S | 600 | how long an account's terms acceptance is trusted before re-reading |
| SALT_INPUT | 1 | a random `salt` in the chat envelope: `inputCommitment` is unguessable |
| STAGE_LOG | 0 | log every paid-path stage timing (`cocore.gateway.stages`, DEBUG lines) |
| EVENT_LOOP / HTTP_PARSER | uvloop / httptools | `asyncio` / `h11`: the pure-Python fallbacks |
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cocore.rpc import ConfigError, ServerConfig
from cocore.storage import sqlite_url

PREFIX = "COCORE_GATEWAY_"
DEV_EXCHANGE_TOKEN = "dev-gateway-token-not-secret"  # noqa: S105 - the exchange's dev token
DEV_MATCHMAKER_TOKEN = "dev-matchmaker-token-not-secret"  # noqa: S105 - refused outside dev
DEV_EDGE_SECRET = "dev-edge-secret-not-secret"  # noqa: S105 - refused outside dev
DEV_CREDENTIALS_KEY = base64.b64encode(b"dev-credentials-key-not-secret!!").decode()


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what one request may ask for."""

    max_body_bytes: int = 4 * 1024 * 1024
    default_max_tokens: int = 1024
    max_tokens_cap: int = 32768
    max_messages: int = 256


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    server: ServerConfig = field(default_factory=ServerConfig)
    env: str = "dev"
    db_url: str = field(default_factory=lambda: sqlite_url(Path("var/gateway/gateway.db")))
    migrate: bool = True
    http_host: str = "127.0.0.1"
    http_port: int = 2596
    service_did: str = "did:web:gateway.cocore.test"
    exchange_address: str = "127.0.0.1:2591"
    exchange_token: str = DEV_EXCHANGE_TOKEN
    matchmaker_address: str = "127.0.0.1:2592"
    matchmaker_token: str = DEV_MATCHMAKER_TOKEN
    plc_url: str = "http://127.0.0.1:2582"
    pds_url: str = "http://127.0.0.1:2583"
    credentials_key: str = DEV_CREDENTIALS_KEY
    credentials_old_keys: tuple[str, ...] = ()
    edge_secret: str = DEV_EDGE_SECRET
    limits: Limits = field(default_factory=Limits)
    job_ttl_s: int = 3600
    hold_ttl_s: int = 900
    settle_wait_ms: int = 0
    receipt_wait_s: float = 60.0
    appview_address: str | None = None
    failover_candidates: int = 3
    key_cache_ttl_s: float = 30.0
    default_rpm: int = 600
    default_tpm: int = 1_000_000
    terms_cache_s: float = 600.0
    salt_input: bool = True
    stage_log: bool = False
    event_loop: str = "uvloop"
    http_parser: str = "httptools"

    @property
    def dev(self) -> bool:
        return self.env == "dev"

    @property
    def credentials_key_bytes(self) -> bytes:
        return base64.b64decode(self.credentials_key, validate=True)

    @property
    def credentials_old_key_bytes(self) -> tuple[bytes, ...]:
        return tuple(base64.b64decode(k, validate=True) for k in self.credentials_old_keys)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> GatewayConfig:
        """Read every `COCORE_GATEWAY_*` variable; bad values raise `ConfigError`."""
        values: dict[str, Any] = {"server": ServerConfig.from_env(environ, PREFIX)}
        limits: dict[str, Any] = {}
        for name, parse in _FIELDS.items():
            raw = environ.get(PREFIX + name.upper(), "").strip()
            if raw:
                target = limits if name in _LIMIT_FIELDS else values
                target[name] = _parse(PREFIX + name.upper(), raw, parse)
        config = cls(limits=Limits(**limits), **values)
        config.check()
        return config

    def check(self) -> None:
        """Refuse bad values, and placeholder secrets outside dev."""
        if self.env not in ("dev", "prod"):
            raise ConfigError(f"{PREFIX}ENV must be dev or prod")
        try:
            key = self.credentials_key_bytes
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != 32:
            raise ConfigError(f"{PREFIX}CREDENTIALS_KEY must be base64 of exactly 32 bytes")
        try:
            bad_old = any(len(k) != 32 for k in self.credentials_old_key_bytes)
        except (binascii.Error, ValueError):
            bad_old = True
        if bad_old:
            raise ConfigError(f"{PREFIX}CREDENTIALS_OLD_KEYS must each be base64 of 32 bytes")
        if not 1 <= self.failover_candidates <= 5:
            raise ConfigError(f"{PREFIX}FAILOVER_CANDIDATES must be 1..5")
        if self.event_loop not in ("uvloop", "asyncio"):
            raise ConfigError(f"{PREFIX}EVENT_LOOP must be uvloop or asyncio")
        if self.http_parser not in ("httptools", "h11"):
            raise ConfigError(f"{PREFIX}HTTP_PARSER must be httptools or h11")
        if self.dev:
            return
        placeholders = (DEV_EXCHANGE_TOKEN, DEV_MATCHMAKER_TOKEN, DEV_EDGE_SECRET)
        secrets = (self.exchange_token, self.matchmaker_token, self.edge_secret)
        if any(s in placeholders or len(s) < 32 for s in secrets):
            raise ConfigError("prod needs real secrets: tokens and the edge secret ≥ 32 chars")
        if self.credentials_key == DEV_CREDENTIALS_KEY:
            raise ConfigError(f"prod needs a real {PREFIX}CREDENTIALS_KEY")


def _bool(raw: str) -> bool:
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


def _keys(raw: str) -> tuple[str, ...]:
    return tuple(k.strip() for k in raw.split(",") if k.strip())


_LIMIT_FIELDS = frozenset({"max_body_bytes", "default_max_tokens", "max_tokens_cap"})
_FIELDS: dict[str, Callable[[str], Any]] = {
    "env": str, "db_url": str, "migrate": _bool, "http_host": str, "http_port": int,
    "service_did": str, "exchange_address": str, "exchange_token": str,
    "matchmaker_address": str, "matchmaker_token": str, "plc_url": str, "pds_url": str,
    "credentials_key": str, "credentials_old_keys": _keys, "edge_secret": str,
    "max_body_bytes": int,
    "default_max_tokens": int, "max_tokens_cap": int, "job_ttl_s": int, "hold_ttl_s": int,
    "settle_wait_ms": int, "receipt_wait_s": float, "appview_address": str,
    "failover_candidates": int, "key_cache_ttl_s": float, "default_rpm": int, "default_tpm": int,
    "terms_cache_s": float, "salt_input": _bool, "stage_log": _bool, "event_loop": str,
    "http_parser": str,
}  # fmt: skip


def _parse(name: str, raw: str, parse: Callable[[str], Any]) -> Any:
    try:
        return parse(raw)
    except ValueError:
        raise ConfigError(
            f"{name} is not valid: {raw[:60]!r}", details={"variable": name}
        ) from None
