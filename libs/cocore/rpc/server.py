"""`start_server`: the one way a cocore service builds, binds and starts its gRPC server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import ModuleType, TracebackType
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from cocore.errors import Unavailable
from cocore.rpc.config import ConfigError, ServerConfig
from cocore.rpc.errors import ErrorMappingInterceptor
from cocore.rpc.metrics import MetricsInterceptor, ServerMetrics
from cocore.rpc.metrics_http import MetricsEndpoint, serve_metrics
from cocore.rpc.tls import server_credentials

# Adds the service's servicers to the server; returns their full names ("cocore.x.v1.Svc").
Register = Callable[[grpc.aio.Server], Iterable[str]]


class BindError(Unavailable):
    default_code = "bind_failed"


def service_name(pb2: ModuleType, service: str) -> str:
    """The full name of `service` declared in a generated `*_pb2` module."""
    return str(pb2.DESCRIPTOR.services_by_name[service].full_name)


def server_options(config: ServerConfig) -> list[tuple[str, int]]:
    """Channel arguments: bounded messages and keepalive for long-lived streams."""
    return [
        # Larger frames fail with RESOURCE_EXHAUSTED before reaching a handler.
        ("grpc.max_receive_message_length", config.max_message_bytes),
        ("grpc.max_send_message_length", config.max_message_bytes),
        ("grpc.keepalive_time_ms", _ms(config.keepalive_time_s)),
        ("grpc.keepalive_timeout_ms", _ms(config.keepalive_timeout_s)),
        ("grpc.keepalive_permit_without_calls", 1),
        # Let clients ping idle streams this often without being sent GOAWAY.
        (
            "grpc.http2.min_recv_ping_interval_without_data_ms",
            _ms(config.min_client_ping_interval_s),
        ),
        # Keep pinging idle streams for as long as they live (the default stops after 2).
        ("grpc.http2.max_pings_without_data", 0),
        # A second server on the same port must fail to bind, not silently share it.
        ("grpc.so_reuseport", 0),
    ]


@dataclass(eq=False, kw_only=True)
class RunningServer:
    """A started server: its bound ports, health servicer and metrics; `stop()` drains it."""

    server: grpc.aio.Server
    config: ServerConfig
    port: int
    health: Any  # grpc_health.v1.health.aio.HealthServicer
    metrics: ServerMetrics
    services: tuple[str, ...]
    metrics_endpoint: MetricsEndpoint | None = None
    _stopped: asyncio.Task[None] | None = field(default=None, init=False, repr=False)

    @property
    def address(self) -> str:
        return _address(self.config.host, self.port)

    async def stop(self, grace_s: float | None = None) -> None:
        """Report NOT_SERVING, refuse new calls, give in-flight ones `grace_s`, then close."""
        if self._stopped is None:
            grace = self.config.grace_s if grace_s is None else grace_s
            self._stopped = asyncio.create_task(self._stop(grace))
        await asyncio.shield(self._stopped)

    async def _stop(self, grace_s: float) -> None:
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace_s)
        if self.metrics_endpoint is not None:
            await self.metrics_endpoint.stop()

    async def wait_for_termination(self) -> None:
        """Return once the server has stopped; cancelling this wait leaves the server alone."""
        # Cancelling grpc's wait directly cancels the server's own shutdown future, which
        # would make a later stop() raise CancelledError.
        await asyncio.shield(self.server.wait_for_termination())

    async def __aenter__(self) -> RunningServer:
        return self

    async def __aexit__(
        self, *exc_info: type[BaseException] | BaseException | TracebackType | None
    ) -> None:
        await self.stop()


async def start_server(config: ServerConfig, register: Register) -> RunningServer:
    """Build, bind and start a server with health, reflection, error mapping and metrics."""
    metrics = ServerMetrics()
    server = grpc.aio.server(
        interceptors=[MetricsInterceptor(metrics), ErrorMappingInterceptor()],
        options=server_options(config),
    )
    services = tuple(register(server))
    health_servicer = _add_health(server)
    reflection.enable_server_reflection(
        (*services, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    # Metrics first: a grpc.aio server that never started keeps its bound port until the
    # process exits, so the gRPC bind must be the last step that can fail.
    endpoint = await _serve_metrics(metrics, config)
    try:
        port = _bind(server, config)
    except (BindError, ConfigError):
        if endpoint is not None:
            await endpoint.stop()
        raise
    await server.start()
    running = RunningServer(
        server=server,
        config=config,
        port=port,
        health=health_servicer,
        metrics=metrics,
        services=services,
        metrics_endpoint=endpoint,
    )
    for name in ("", *services):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return running


def _add_health(server: grpc.aio.Server) -> Any:
    servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    return servicer


def _bind(server: grpc.aio.Server, config: ServerConfig) -> int:
    address = _address(config.host, config.port)
    try:
        if config.tls_cert_file and config.tls_key_file:
            creds = server_credentials(config.tls_cert_file, config.tls_key_file)
            port = int(server.add_secure_port(address, creds))
        else:
            port = int(server.add_insecure_port(address))
    except RuntimeError as e:  # grpc raises a bare RuntimeError("Failed to bind …")
        raise BindError(f"cannot bind {address}", details={"address": address}) from e
    if port == 0:
        raise BindError(f"cannot bind {address}", details={"address": address})
    return port


async def _serve_metrics(metrics: ServerMetrics, config: ServerConfig) -> MetricsEndpoint | None:
    if config.metrics_port is None:
        return None
    try:
        return await serve_metrics(metrics.registry, config.metrics_host, config.metrics_port)
    except OSError as e:
        address = _address(config.metrics_host, config.metrics_port)
        raise BindError(f"cannot bind metrics on {address}", details={"address": address}) from e


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _ms(seconds: float) -> int:
    return round(seconds * 1000)
