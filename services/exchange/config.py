"""The exchange's configuration: `COCORE_EXCHANGE_*` variables, read once, typed and checked.

| variable | default | meaning |
|---|---|---|
| ENV | dev | `dev` or `prod`; prod refuses placeholder secrets and crash points |
| DB_URL | var/exchange/exchange.db (SQLite) | sqlite+aiosqlite or postgresql+asyncpg URL |
| MIGRATE | 1 | upgrade the schema at start-up |
| PDS_URL / PLC_URL | http://127.0.0.1:2583 / :2582 | the exchange's PDS and the PLC directory |
| HANDLE / PASSWORD / EMAIL | exchange.test / dev password | the exchange's PDS account |
| CREATE_ACCOUNT | 1 in dev, 0 in prod | create the account (with our rotation key) |
| DID | — | the exchange's DID, when known (lets it start while its PDS is down) |
| KEY_DIR | var/exchange/keys | P-256 settlement key (cocore KeyDir) and the PLC rotation key |
| SIGNING_KEY_PEM | — | a PEM file instead of KEY_DIR's settlement key |
| FEE_BPS, FEE_MIN_MINOR, CURRENCY | 500, 0, CC | the fee; the ledger's one currency |
| TOKEN_RATE_IN/OUT_PER_MTOK | 1000000 | the price every receipt must carry |
| TOKEN_GRANT, TOKEN_FLOOR | 1000000, 100000 | onboarding grant; admission floor |
| REFRESH_AMOUNT, REFRESH_CADENCE_MINUTES | 70000, 10080 | the lazy weekly refresh |
| PATRONAGE_FRACTION_BPS, PATRONAGE_CADENCE_DAYS | 8000, 30 | patronage |
| SELF_LOOP_FEE_WAIVED, SELF_LOOP_MIN_MINOR | 1, — | self-loop rule |
| TREASURY_DID, TERMS_URI, TERMS_VERSION | the exchange's DID, —, — | treasury and terms |
| SOFTWARE_VERSION / AUDIT_POSTURE | cocore-exchange@0.1.0 / — | the exchange attestation |
| OPERATOR_TOKEN | dev token | bearer token for operator calls |
| SERVICE_TOKENS | gateway:<dev token> | `name:token,…` bearer tokens for trusted services |
| APPVIEW_ADDRESS | — | host:port of an AppView whose `WatchRecords` feed brings receipts |
| FIREHOSES | the PDS (none with an AppView) | PDS/relay URLs to settle receipts from (`off`) |
| SOURCE_GRACE_S | 3 | receipts from sources wait this long: the gateway's Settle comes first |
| VERIFY_WORKERS | 0 | worker processes for receipt verification (0: inline) |
| HOLD_TTL_S | 900 | default hold lifetime |
| FAST_ADMIT_S | 5 | answer `Admit` from memory for members seen this recently (0: always wait) |
| HOLD_LINGER_MS | 25 | a hold answered from memory commits within this long (with company) |
| EXPIRE_INTERVAL_S / RECONCILE_INTERVAL_S | 30 / 600 | sweeps (0 turns one off) |
| PATRONAGE_INTERVAL_S | 3600 | how often due patronage periods are distributed (0: only by hand) |
| PATRONAGE_GRACE_S | 86400 | a period is distributed once it has been over this long |
| CRASH_AT | — | dev only: SIGKILL at a named point (the crash test) |
| GRPC_HOST, GRPC_PORT, METRICS_PORT, … | see `cocore.rpc.ServerConfig` | the server |
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from cocore.rpc import ConfigError, ServerConfig
from cocore.storage import sqlite_url
from cocore.syntax import Did, InvalidSyntaxError, parse_did

from . import faults
from .policy import PolicyError, PolicyTerms

PREFIX = "COCORE_EXCHANGE_"
DEV_OPERATOR_TOKEN = "dev-operator-token-not-secret"  # noqa: S105 - refused outside dev
DEV_SERVICE_TOKEN = "dev-gateway-token-not-secret"  # noqa: S105 - refused outside dev
DEV_PASSWORD = "dev-exchange-password-not-secret"  # noqa: S105 - refused outside dev
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Config:
    server: ServerConfig
    env: str = "dev"
    db_url: str = field(default_factory=lambda: sqlite_url(Path("var/exchange/exchange.db")))
    migrate: bool = True
    pds_url: str = "http://127.0.0.1:2583"
    plc_url: str = "http://127.0.0.1:2582"
    handle: str = "exchange.test"
    password: str = DEV_PASSWORD
    email: str = "exchange@example.com"
    create_account: bool = True
    did: Did | None = None
    key_dir: Path = Path("var/exchange/keys")
    signing_key_pem: Path | None = None
    terms: PolicyTerms = field(default_factory=PolicyTerms)
    software_version: str = "cocore-exchange@0.1.0"
    audit_posture: str | None = None
    operator_token: str = DEV_OPERATOR_TOKEN
    service_tokens: tuple[tuple[str, str], ...] = (("gateway", DEV_SERVICE_TOKEN),)
    firehoses: tuple[str, ...] | None = None  # None: the exchange's own PDS (unless an AppView)
    appview_address: str | None = None
    source_grace_s: float = 3.0
    verify_workers: int = 0
    hold_ttl_s: int = 900
    fast_admit_s: float = 5.0
    hold_linger_ms: float = 25.0
    expire_interval_s: float = 30.0
    reconcile_interval_s: float = 600.0
    patronage_interval_s: float = 3600.0
    patronage_grace_s: float = 86400.0
    crash_at: str | None = None

    @property
    def dev(self) -> bool:
        return self.env == "dev"

    @property
    def receipt_firehoses(self) -> tuple[str, ...]:
        if self.firehoses is not None:
            return self.firehoses
        return () if self.appview_address else (self.pds_url,)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Config:
        """Read every `COCORE_EXCHANGE_*` variable; bad values raise `ConfigError`."""
        env = _Env(environ)
        values: dict[str, Any] = {"server": ServerConfig.from_env(environ, PREFIX)}
        for name, parse in _FIELDS.items():
            raw = env.get(name.upper())
            if raw is not None:
                values[name] = _parse(PREFIX + name.upper(), raw, parse)
        # Creating the account is a dev convenience; production's account is set up once.
        values.setdefault("create_account", values.get("env", "dev") == "dev")
        try:
            values["terms"] = _terms(env)
        except PolicyError as e:
            raise ConfigError(f"policy: {e.message}") from e
        config = cls(**values)
        config.check()
        return config

    def check(self) -> None:
        """Refuse what must never reach production."""
        if self.env not in ("dev", "prod"):
            raise ConfigError(f"{PREFIX}ENV must be dev or prod")
        if self.fast_admit_s < 0:
            raise ConfigError(f"{PREFIX}FAST_ADMIT_S must be ≥ 0")
        if not 0 <= self.hold_linger_ms <= 1000:
            raise ConfigError(f"{PREFIX}HOLD_LINGER_MS must be between 0 and 1000")
        if self.source_grace_s < 0:
            raise ConfigError(f"{PREFIX}SOURCE_GRACE_S must be ≥ 0")
        if self.patronage_interval_s < 0 or self.patronage_grace_s < 0:
            raise ConfigError(f"{PREFIX}PATRONAGE_INTERVAL_S and _GRACE_S must be ≥ 0")
        if self.crash_at is not None and (not self.dev or self.crash_at not in faults.POINTS):
            raise ConfigError(f"{PREFIX}CRASH_AT is a dev-only test hook ({faults.POINTS})")
        if self.dev:
            return
        secrets = [self.operator_token, self.password, *(t for _, t in self.service_tokens)]
        placeholders = (DEV_OPERATOR_TOKEN, DEV_SERVICE_TOKEN, DEV_PASSWORD)
        if any(s in placeholders or len(s) < 32 for s in secrets):
            raise ConfigError("prod needs real secrets: operator/service tokens ≥ 32 characters")


class _Env:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def get(self, name: str) -> str | None:
        raw = self._environ.get(PREFIX + name)
        return raw.strip() if raw is not None and raw.strip() else None


def _bool(raw: str) -> bool:
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


def _tokens(raw: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in raw.split(","):
        name, sep, token = item.strip().partition(":")
        if not sep or not name or not token:
            raise ValueError("expected name:token,name:token")
        pairs.append((name, token))
    return tuple(pairs)


def _urls(raw: str) -> tuple[str, ...]:
    return () if raw.lower() == "off" else tuple(u.strip() for u in raw.split(",") if u.strip())


def _did(raw: str) -> Did:
    try:
        return parse_did(raw)
    except InvalidSyntaxError as e:
        raise ValueError(str(e)) from e


_FIELDS: dict[str, Callable[[str], Any]] = {
    "env": str, "db_url": str, "migrate": _bool, "pds_url": str, "plc_url": str,
    "handle": str, "password": str, "email": str, "create_account": _bool, "did": _did,
    "key_dir": Path, "signing_key_pem": Path, "software_version": str, "audit_posture": str,
    "operator_token": str, "service_tokens": _tokens, "firehoses": _urls, "appview_address": str,
    "source_grace_s": float, "verify_workers": int, "hold_ttl_s": int, "fast_admit_s": float,
    "hold_linger_ms": float,
    "expire_interval_s": float, "reconcile_interval_s": float, "crash_at": str,
    "patronage_interval_s": float, "patronage_grace_s": float,
}  # fmt: skip

_TERMS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "FEE_BPS": ("fee_bps", int), "FEE_MIN_MINOR": ("fee_min_minor", int),
    "TOKEN_RATE_IN_PER_MTOK": ("token_rate_in_per_mtok", int),
    "TOKEN_RATE_OUT_PER_MTOK": ("token_rate_out_per_mtok", int),
    "TOKEN_GRANT": ("token_grant", int), "TOKEN_FLOOR": ("token_floor", int),
    "REFRESH_AMOUNT": ("refresh_amount", int),
    "REFRESH_CADENCE_MINUTES": ("refresh_cadence_minutes", int),
    "PATRONAGE_FRACTION_BPS": ("patronage_fraction_bps", int),
    "PATRONAGE_CADENCE_DAYS": ("patronage_cadence_days", int),
    "SELF_LOOP_FEE_WAIVED": ("self_loop_fee_waived", _bool),
    "SELF_LOOP_MIN_MINOR": ("self_loop_min_minor", int),
    "TREASURY_DID": ("treasury_did", _did), "TERMS_URI": ("terms_uri", str),
    "TERMS_VERSION": ("terms_version", str),
}  # fmt: skip


def _terms(env: _Env) -> PolicyTerms:
    values: dict[str, Any] = {}
    for name, (attr, parse) in _TERMS.items():
        raw = env.get(name)
        if raw is not None:
            values[attr] = _parse(PREFIX + name, raw, parse)
    currency = env.get("CURRENCY")
    if currency is not None:
        values["currency"] = currency
        values["supported_currencies"] = (currency,)
    return PolicyTerms(**values)


def _parse(name: str, raw: str, parse: Callable[[str], _T]) -> _T:
    try:
        return parse(raw)
    except ValueError:
        raise ConfigError(
            f"{name} is not valid: {raw[:60]!r}", details={"variable": name}
        ) from None
