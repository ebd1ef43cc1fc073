"""AppView settings, read once from `COCORE_APPVIEW_*` variables (nothing else reads them)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from cocore.atproto import EndpointPolicy
from cocore.rpc import ConfigError, ServerConfig
from cocore.storage import parse_database_url, sqlite_url
from cocore.storage.urls import is_sqlite_memory
from cocore.syntax import InvalidSyntaxError, parse_did

PREFIX = "COCORE_APPVIEW_"
DEFAULT_DATABASE = "var/appview.db"
DEFAULT_PLC_URL = "https://plc.directory"
DEFAULT_HTTP_PORT = 2590


@dataclass(frozen=True, slots=True)
class AppViewConfig:
    """Where to read from, where to store, where to serve.

    PDS_HOSTS / RELAYS: comma-separated firehose sources (http(s) base URLs). A PDS is also
    asked for every repo it hosts the first time it is used, and backfills ask it directly;
    a relay's repos are backfilled from the PDS in each DID document. EXCHANGES (optional):
    the only DIDs whose exchange records (settlements, policies, grants…) are indexed.
    PDS_ALLOWED_HOSTS: host names whose PDS endpoints may be called even though private or
    plain http (the operator's own PDS inside the cluster); the PDS_HOSTS' hosts always are.
    Any other endpoint a DID document names must be https on a public host (no SSRF through
    a stranger's DID document). DEV=1 allows an in-memory database, http did:web on loopback
    and any PDS endpoint; never in production. INGEST_WORKERS: read, decode and validate each
    source in a child process (1) or in the serving process (0); default 1 on a host with
    more than one core, where it roughly doubles ingest and keeps queries responsive.
    """

    grpc: ServerConfig
    database_url: str
    pds_hosts: tuple[str, ...] = ()
    relays: tuple[str, ...] = ()
    pds_allowed_hosts: tuple[str, ...] = ()
    plc_url: str = DEFAULT_PLC_URL
    http_host: str = "127.0.0.1"
    http_port: int = DEFAULT_HTTP_PORT
    exchanges: frozenset[str] | None = None
    dev: bool = False
    max_record_bytes: int = 256 * 1024
    backfill_concurrency: int = 2
    ingest_workers: bool = False

    def __post_init__(self) -> None:
        url = parse_database_url(self.database_url)
        if is_sqlite_memory(url) and not self.dev:
            raise ConfigError(
                "an in-memory database loses the index on restart; set "
                f"{PREFIX}DATABASE_URL (or {PREFIX}DEV=1 for tests)"
            )
        if not 0 <= self.http_port <= 65535:
            raise ConfigError(f"{PREFIX}HTTP_PORT out of range: {self.http_port}")
        for source in (*self.pds_hosts, *self.relays):
            if not source.startswith(("http://", "https://", "ws://", "wss://")):
                raise ConfigError(f"firehose source {source[:80]!r} is not an http(s)/ws(s) URL")
        if self.backfill_concurrency < 1 or self.max_record_bytes < 1024:
            raise ConfigError("BACKFILL_CONCURRENCY must be ≥ 1 and MAX_RECORD_BYTES ≥ 1024")

    def endpoint_policy(self) -> EndpointPolicy:
        """Which PDS endpoints from DID documents this AppView may call."""
        hosts = (*self.pds_hosts, *self.pds_allowed_hosts)
        return EndpointPolicy.allowing(hosts, allow_private=self.dev)

    @property
    def source_kinds(self) -> dict[str, str]:
        return {**dict.fromkeys(self.relays, "relay"), **dict.fromkeys(self.pds_hosts, "pds")}

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> AppViewConfig:
        def get(name: str, default: str = "") -> str:
            return environ.get(PREFIX + name, "").strip() or default

        exchanges = _list(get("EXCHANGES"))
        try:
            allowed = frozenset(str(parse_did(d)) for d in exchanges) if exchanges else None
            return cls(
                grpc=ServerConfig.from_env(environ, PREFIX),
                database_url=get("DATABASE_URL") or sqlite_url(DEFAULT_DATABASE),
                pds_hosts=_list(get("PDS_HOSTS")),
                relays=_list(get("RELAYS")),
                pds_allowed_hosts=_list(get("PDS_ALLOWED_HOSTS")),
                plc_url=get("PLC_URL", DEFAULT_PLC_URL),
                http_host=get("HTTP_HOST", "127.0.0.1"),
                http_port=int(get("HTTP_PORT", str(DEFAULT_HTTP_PORT))),
                exchanges=allowed,
                dev=get("DEV", "0") in ("1", "true"),
                max_record_bytes=int(get("MAX_RECORD_BYTES", str(256 * 1024))),
                backfill_concurrency=int(get("BACKFILL_CONCURRENCY", "2")),
                ingest_workers=_flag(get("INGEST_WORKERS"), default=(os.cpu_count() or 1) > 1),
            )
        except (ValueError, InvalidSyntaxError) as e:
            raise ConfigError(f"invalid {PREFIX}* setting: {e}") from e


def _flag(text: str, *, default: bool) -> bool:
    if not text:
        return default
    if text not in ("0", "1", "true", "false"):
        raise ValueError(f"expected 0 or 1, got {text[:20]!r}")
    return text in ("1", "true")


def _list(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(p.strip().rstrip("/") for p in text.split(",") if p.strip()))
