"""`ServerConfig`: how a gRPC server binds, shuts down and bounds its messages."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from cocore.errors import InvalidInput

_T = TypeVar("_T")
MAX_MESSAGE_BYTES_LIMIT = 64 * 1024 * 1024  # a frame past this is a bug or an attack


class ConfigError(InvalidInput):
    default_code = "invalid_config"


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Server settings; a service's config composes one, built by `from_env` or directly.

    `metrics_port=None` turns the metrics HTTP endpoint off (the counters still run);
    port 0 means "pick a free port" for both listeners.
    """

    host: str = "127.0.0.1"
    port: int = 0
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = 0
    grace_s: float = 10.0
    max_message_bytes: int = 4 * 1024 * 1024
    # Provider streams stay open for hours behind NATs and proxies: ping idle
    # connections so dead peers are noticed and middleboxes keep the mapping.
    keepalive_time_s: float = 30.0
    keepalive_timeout_s: float = 10.0
    min_client_ping_interval_s: float = 10.0
    # Serve TLS when both are set (PEM files); plaintext otherwise (loopback, or TLS ends at
    # a load balancer). Kubernetes' gRPC probes speak plaintext only.
    tls_cert_file: str | None = None
    tls_key_file: str | None = None

    def __post_init__(self) -> None:
        _require(bool(self.host) and bool(self.metrics_host), "host must not be empty")
        _require(_is_port(self.port), f"port out of range: {self.port}")
        _require(
            self.metrics_port is None or _is_port(self.metrics_port),
            f"metrics_port out of range: {self.metrics_port}",
        )
        _require(self.grace_s >= 0, "grace_s must be >= 0")
        _require(
            0 < self.max_message_bytes <= MAX_MESSAGE_BYTES_LIMIT,
            f"max_message_bytes must be in 1..{MAX_MESSAGE_BYTES_LIMIT}",
        )
        _require(min(self.keepalive_time_s, self.keepalive_timeout_s) > 0, "keepalive must be > 0")
        _require(self.min_client_ping_interval_s > 0, "min_client_ping_interval_s must be > 0")
        _require(
            (self.tls_cert_file is None) == (self.tls_key_file is None),
            "TLS needs both a certificate and a key file",
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str], prefix: str) -> ServerConfig:
        """Read `<prefix>GRPC_HOST`, `<prefix>GRPC_PORT`, `<prefix>METRICS_PORT` (`off`), …

        Every field has a variable named after it in upper case (`host`/`port` are
        `GRPC_HOST`/`GRPC_PORT`); unset variables keep the defaults.
        """
        values: dict[str, Any] = {}
        for field in fields(cls):
            name = prefix + _ENV_NAMES.get(field.name, field.name.upper())
            raw = environ.get(name)
            if raw is not None and raw.strip() != "":
                values[field.name] = _parse(name, raw.strip(), _PARSERS[field.name])
        return cls(**values)


def _optional_port(raw: str) -> int | None:
    return None if raw.lower() == "off" else int(raw)


_ENV_NAMES = {"host": "GRPC_HOST", "port": "GRPC_PORT"}
_PARSERS: dict[str, Callable[[str], Any]] = {
    "host": str,
    "port": int,
    "metrics_host": str,
    "metrics_port": _optional_port,
    "grace_s": float,
    "max_message_bytes": int,
    "keepalive_time_s": float,
    "keepalive_timeout_s": float,
    "min_client_ping_interval_s": float,
    "tls_cert_file": str,
    "tls_key_file": str,
}


def _parse(name: str, raw: str, parser: Callable[[str], _T]) -> _T:
    try:
        return parser(raw)
    except ValueError:
        raise ConfigError(f"{name} is not valid: {raw!r}", details={"variable": name}) from None


def _is_port(port: int) -> bool:
    return 0 <= port <= 65535


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)
