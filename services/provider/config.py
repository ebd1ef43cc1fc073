"""The agent's configuration: `<home>/config.toml`, then `COCORE_PROVIDER_*` variables, read once.

| key (config.toml) / variable (COCORE_PROVIDER_ + upper case) | default | meaning |
|---|---|---|
| HOME (variable only) | ~/.cocore-provider | the agent's home: keys, credentials, outbox, status |
| matchmaker | 127.0.0.1:50051 | host:port of the matchmaker's ProviderLink |
| matchmaker_did | did:web:matchmaker.cocore.localhost | `aud` of the service-auth JWT |
| matchmaker_tls | auto | `on`, `off`, or `auto`: TLS unless the matchmaker is on loopback |
| matchmaker_ca_file | — (system roots) | PEM roots that sign the matchmaker's certificate |
| exchange_did | — (required to serve) | the exchange whose `tokenRate` prices receipts |
| plc_url | http://127.0.0.1:2582 | resolves the exchange DID to its PDS |
| models_dir | <home>/models | mlx-lm model directories (`models tiny`, `models convert`) |
| models | every usable directory | the model ids (directory names) to load, comma-separated |
| slots | 4 | jobs each model runs at once (continuous batching) |
| machine_label | the host name | the provider record's `machineLabel` |
| country | — | ISO 3166-1 alpha-2, sent to the matchmaker only when set |
| attestation_hours | 24 | validity of each attestation record |
| renew_before_hours | 8 | renew the attestation when less than this is left |
| flush_ms / flush_tokens | 20 / 16 | coalescing: a sealed chunk at least this often / this big |
| drain_timeout_s | 60 | how long SIGTERM waits for running jobs |
| record_poll_s | 30 | how often the owner's fields (proBono, active) are re-read |
| policy_refresh_s | 300 | how often the exchange's tokenRate is re-read |
| status_interval_s | 2 | how often `status.json` is rewritten |
| log_level | INFO | the agent's log level |
"""

from __future__ import annotations

import os
import re
import socket
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from cocore.rpc.tls import is_loopback
from cocore.syntax import InvalidSyntaxError, parse_did

from .errors import ConfigError

PREFIX = "COCORE_PROVIDER_"
CONFIG_FILE = "config.toml"
DEFAULT_HOME = "~/.cocore-provider"
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_ADDRESS = re.compile(r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$")


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    home: Path
    matchmaker: str = "127.0.0.1:50051"
    matchmaker_did: str = "did:web:matchmaker.cocore.localhost"
    matchmaker_tls: str = "auto"
    matchmaker_ca_file: Path | None = None
    exchange_did: str = ""
    plc_url: str = "http://127.0.0.1:2582"
    models_dir: Path | None = None
    models: tuple[str, ...] = ()
    slots: int = 4
    machine_label: str = field(default_factory=socket.gethostname)
    country: str = ""
    attestation_hours: float = 24.0
    renew_before_hours: float = 8.0
    flush_ms: int = 20
    flush_tokens: int = 16
    drain_timeout_s: float = 60.0
    record_poll_s: float = 30.0
    policy_refresh_s: float = 300.0
    status_interval_s: float = 2.0
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        _check(bool(_ADDRESS.match(self.matchmaker)), "matchmaker must be host:port")
        _check_did(self.matchmaker_did, "matchmaker_did")
        _check(
            self.matchmaker_tls in ("auto", "on", "off"), "matchmaker_tls must be auto, on or off"
        )
        if self.exchange_did:
            _check_did(self.exchange_did, "exchange_did")
        _check(self.plc_url.startswith(("http://", "https://")), "plc_url must be an http(s) URL")
        _check(1 <= self.slots <= 256, "slots must be 1..256")
        _check(not self.country or bool(_COUNTRY.match(self.country)), "country must be like US")
        _check(0 < len(self.machine_label) <= 128, "machine_label must be 1..128 characters")
        _check(1 <= self.attestation_hours <= 24 * 7, "attestation_hours must be 1..168")
        _check(
            0 < self.renew_before_hours < self.attestation_hours,
            "renew_before_hours must be positive and below attestation_hours",
        )
        _check(1 <= self.flush_ms <= 1000, "flush_ms must be 1..1000")
        _check(1 <= self.flush_tokens <= 1024, "flush_tokens must be 1..1024")
        for name in ("drain_timeout_s", "record_poll_s", "policy_refresh_s", "status_interval_s"):
            _check(getattr(self, name) > 0, f"{name} must be positive")
        _check(
            self.log_level.upper() in ("DEBUG", "INFO", "WARNING", "ERROR"),
            "log_level must be DEBUG, INFO, WARNING or ERROR",
        )

    @property
    def matchmaker_uses_tls(self) -> bool:
        """TLS to the matchmaker: always, unless it is on this machine (or turned off)."""
        if self.matchmaker_tls == "auto":
            return not is_loopback(self.matchmaker)
        return self.matchmaker_tls == "on"

    @property
    def matchmaker_ca(self) -> str | None:
        return str(self.matchmaker_ca_file) if self.matchmaker_ca_file is not None else None

    @property
    def model_root(self) -> Path:
        return self.models_dir if self.models_dir is not None else self.home / "models"

    @property
    def attestation_s(self) -> float:
        return self.attestation_hours * 3600

    @property
    def renew_before_s(self) -> float:
        return self.renew_before_hours * 3600

    @classmethod
    def load(cls, environ: Mapping[str, str]) -> ProviderConfig:
        """The home from the environment, then its config file, then `COCORE_PROVIDER_*`."""
        home = home_dir(environ)
        values = read_file(home / CONFIG_FILE)
        for f in fields(cls):
            raw = environ.get(PREFIX + f.name.upper(), "").strip()
            if raw and f.name != "home":
                values[f.name] = raw
        return cls.from_values(home, values)

    @classmethod
    def from_values(cls, home: Path, values: Mapping[str, Any]) -> ProviderConfig:
        known = {f.name: f for f in fields(cls)}
        parsed: dict[str, Any] = {}
        for key, value in values.items():
            if key not in known or key == "home":
                raise ConfigError(f"unknown configuration key {key!r}")
            parsed[key] = _convert(key, value)
        return cls(home=home, **parsed)

    def with_values(self, **values: Any) -> ProviderConfig:
        return replace(self, **{k: _convert(k, v) for k, v in values.items()})


def home_dir(environ: Mapping[str, str]) -> Path:
    raw = environ.get(PREFIX + "HOME", "").strip() or DEFAULT_HOME
    return Path(os.path.expanduser(raw)).absolute()


def read_file(path: Path) -> dict[str, Any]:
    """The config file as a dict ({} when it does not exist)."""
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path} is not valid TOML: {e}") from None


def write_file(path: Path, values: Mapping[str, Any]) -> None:
    """A flat TOML file of strings, numbers and string lists (what `init` writes)."""
    lines = ["# cocore-provider configuration (COCORE_PROVIDER_* variables override it)"]
    for key, value in values.items():
        lines.append(f"{key} = {_toml(value)}")
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(path)


def normalise(values: Mapping[str, Any]) -> dict[str, Any]:
    """Typed values for the config file (numbers as numbers, lists as lists)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        typed = _convert(key, value)
        out[key] = (
            str(typed)
            if isinstance(typed, Path)
            else (list(typed) if isinstance(typed, tuple) else typed)
        )
    return out


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def _convert(key: str, value: Any) -> Any:
    converters: dict[str, Callable[[Any], Any]] = {
        "models_dir": lambda v: Path(os.path.expanduser(str(v))).absolute(),
        "matchmaker_ca_file": lambda v: Path(os.path.expanduser(str(v))).absolute(),
        "matchmaker_tls": lambda v: str(v).strip().lower(),
        "models": _models,
        "slots": int,
        "flush_ms": int,
        "flush_tokens": int,
        "country": lambda v: str(v).strip().upper(),
        "log_level": lambda v: str(v).upper(),
    }
    floats = {f.name for f in fields(ProviderConfig) if f.type == "float"}
    try:
        if key in converters:
            return converters[key](value)
        if key in floats:
            return float(value)
        if isinstance(value, str):
            return value.strip()
        raise ConfigError(f"{key} must be a string")
    except (TypeError, ValueError):
        raise ConfigError(f"{key} has an invalid value: {str(value)[:60]!r}") from None


def _models(value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ConfigError("models must be a list of model ids")
    return tuple(str(v).strip() for v in items if str(v).strip())


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def _check_did(value: str, name: str) -> None:
    try:
        parse_did(value)
    except InvalidSyntaxError:
        raise ConfigError(f"{name} must be a DID (did:plc:… or did:web:…)") from None
