"""What the supervisor runs: one `Spec` per process, with its command, environment and port."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from cocore.storage import sqlite_url
from services.gateway.edge import render

from . import blas
from .layout import EXCHANGE_HANDLE, SERVICES, TERMS_URI, TERMS_VERSION, Layout


@dataclass(frozen=True, slots=True)
class Spec:
    """A supervised process; `grpc_port` / `http_url` say how to tell it is up."""

    name: str
    argv: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    grpc_port: int | None = None
    http_url: str | None = None


def database_urls(lay: Layout, pg_admin_url: str | None) -> dict[str, str]:
    """One database per service: SQLite files under var/stack, or databases on one cluster."""
    if pg_admin_url is None:
        return {n: sqlite_url(lay.state / f"{n}.db") for n in SERVICES}
    base = pg_admin_url.rsplit("/", 1)[0]
    return {n: f"{base}/cocore_{n}" for n in SERVICES}


def _python(module: str) -> tuple[str, ...]:
    return (sys.executable, "-m", module)


def _server(lay: Layout, name: str) -> dict[str, str]:
    prefix = f"COCORE_{name.upper()}_"
    return {
        f"{prefix}GRPC_HOST": "127.0.0.1",
        f"{prefix}GRPC_PORT": str(lay.port(name)),
        f"{prefix}METRICS_PORT": str(lay.port(f"{name}_metrics")),
        f"{prefix}GRACE_S": "5",
    }


def atproto_specs(lay: Layout, plc_database_url: str | None) -> list[Spec]:
    """The official PLC and PDS (`stack.sh run`: each in the foreground, node's own PID).

    Without PostgreSQL the PLC keeps its directory in memory: a restarted PLC has forgotten
    every DID (the supervisor says so); `DB=postgres` gives it a database of its own.
    """
    env = {"ATP_STATE_DIR": str(lay.atp), "PLC_PORT": str(lay.port("plc")),
           "PDS_PORT": str(lay.port("pds"))}  # fmt: skip
    plc_env = {**env, "DATABASE_URL": plc_database_url} if plc_database_url else env
    script = str(lay.atp_script)
    return [
        Spec("plc", (script, "run", "plc"), plc_env, http_url=lay.url("plc") + "/_health"),
        Spec("pds", (script, "run", "pds"), env, http_url=lay.url("pds") + "/xrpc/_health"),
    ]


def plc_database_url(pg_admin_url: str | None) -> str | None:
    if pg_admin_url is None:
        return None
    return pg_admin_url.rsplit("/", 1)[0].replace("postgresql+asyncpg", "postgres") + "/plc"


def core_specs(lay: Layout, db: dict[str, str]) -> list[Spec]:
    """The services that need nothing but the PDS: AppView, exchange, matchmaker."""
    plc, pds = lay.url("plc"), lay.url("pds")
    appview = Spec("appview", _python("services.appview"), {
        **_server(lay, "appview"),
        "COCORE_APPVIEW_DATABASE_URL": db["appview"], "COCORE_APPVIEW_PDS_HOSTS": pds,
        "COCORE_APPVIEW_PLC_URL": plc, "COCORE_APPVIEW_HTTP_PORT": str(lay.port("appview_http")),
        "COCORE_APPVIEW_DEV": "1",
    }, grpc_port=lay.port("appview"))  # fmt: skip
    exchange = Spec("exchange", _python("services.exchange"), {
        **_server(lay, "exchange"),
        "COCORE_EXCHANGE_DB_URL": db["exchange"], "COCORE_EXCHANGE_PDS_URL": pds,
        "COCORE_EXCHANGE_PLC_URL": plc, "COCORE_EXCHANGE_HANDLE": EXCHANGE_HANDLE,
        "COCORE_EXCHANGE_KEY_DIR": str(lay.state / "exchange-keys"),
        "COCORE_EXCHANGE_APPVIEW_ADDRESS": lay.address("appview"),  # receipts from its feed
        "COCORE_EXCHANGE_TERMS_URI": TERMS_URI, "COCORE_EXCHANGE_TERMS_VERSION": TERMS_VERSION,
    }, grpc_port=lay.port("exchange"))  # fmt: skip
    matchmaker = Spec("matchmaker", _python("services.matchmaker"), {
        **_server(lay, "matchmaker"),
        "COCORE_MATCHMAKER_DATABASE_URL": db["matchmaker"], "COCORE_MATCHMAKER_PLC_URL": plc,
        "COCORE_MATCHMAKER_REPLICA_ID": "local",
    }, grpc_port=lay.port("matchmaker"))  # fmt: skip
    return [appview, exchange, matchmaker]


def gateway_spec(lay: Layout, db: dict[str, str]) -> Spec:
    return Spec("gateway", _python("services.gateway"), {
        **_server(lay, "gateway"),
        "COCORE_GATEWAY_DB_URL": db["gateway"],
        "COCORE_GATEWAY_HTTP_PORT": str(lay.port("gateway_http")),
        "COCORE_GATEWAY_EXCHANGE_ADDRESS": lay.address("exchange"),
        "COCORE_GATEWAY_MATCHMAKER_ADDRESS": lay.address("matchmaker"),
        "COCORE_GATEWAY_APPVIEW_ADDRESS": lay.address("appview"),  # receipts from its feed
        "COCORE_GATEWAY_PLC_URL": lay.url("plc"), "COCORE_GATEWAY_PDS_URL": lay.url("pds"),
    }, grpc_port=lay.port("gateway"), http_url=lay.url("gateway_http") + "/healthz")  # fmt: skip


def envoy_spec(lay: Layout, envoy: str) -> Spec:
    config = lay.state / "envoy.yaml"
    config.write_text(render(listen_port=lay.port("edge"), gateway_port=lay.port("gateway_http"),
                             authz_port=lay.port("gateway"),
                             admin_port=lay.port("envoy_admin")))  # fmt: skip
    argv = (envoy, "-c", str(config), "--concurrency", "1", "--disable-hot-restart",
            "--log-level", "warn")  # fmt: skip
    return Spec("envoy", argv, http_url=lay.url("envoy_admin") + "/ready")


def provider_spec(lay: Layout) -> Spec:
    """`cocore-provider serve`, configured by `init` (see bootstrap.provider)."""
    exe = Path(sys.executable).parent / "cocore-provider"
    env = {"COCORE_PROVIDER_HOME": str(lay.provider_home), **blas.provider_env(lay.var)}
    return Spec("provider", (str(exe), "serve"), env)
