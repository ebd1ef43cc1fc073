"""TLS for gRPC: server credentials from PEM files, and the client channel every dialer uses.

A provider on a member's Mac dials the matchmaker across the internet with a service-auth
token in its first frames, so anything but loopback goes over TLS unless told otherwise.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grpc

from cocore.rpc.config import ConfigError

LOOPBACK_NAMES = frozenset({"localhost"})


def server_credentials(cert_file: str, key_file: str) -> grpc.ServerCredentials:
    """Credentials for `add_secure_port` from a PEM certificate chain and its private key."""
    cert, key = _read(cert_file, "TLS certificate"), _read(key_file, "TLS key")
    if b"-----BEGIN" not in cert or b"PRIVATE KEY-----" not in key:
        raise ConfigError("the TLS certificate and key must be PEM files")
    return grpc.ssl_server_credentials([(key, cert)])


def is_loopback(address: str) -> bool:
    """Whether a `host:port` address names this machine (`127.0.0.0/8`, `::1`, localhost)."""
    host = address.rsplit(":", 1)[0].strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def open_channel(
    address: str, *, tls: bool, ca_file: str | None = None,
    options: Sequence[tuple[str, Any]] = (),
) -> grpc.aio.Channel:  # fmt: skip
    """An asyncio channel: TLS (system roots, or `ca_file`'s) or plaintext."""
    if not tls:
        return grpc.aio.insecure_channel(address, options=list(options))
    roots = _read(ca_file, "TLS CA file") if ca_file else None
    creds = grpc.ssl_channel_credentials(root_certificates=roots)
    return grpc.aio.secure_channel(address, creds, options=list(options))


def _read(path: str | None, what: str) -> bytes:
    if not path:
        raise ConfigError(f"{what} is not set")
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise ConfigError(f"cannot read the {what} {path}: {e.strerror}") from None
