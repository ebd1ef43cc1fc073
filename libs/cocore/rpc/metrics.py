"""Per-server Prometheus metrics: request counts, durations and in-flight calls by method."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from cocore.rpc._wrap import GuardInterceptor

# Provider streams last minutes, so the buckets run well past the defaults' 10 s.
DURATION_BUCKETS_S = (
    *(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5),
    *(1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0),
)


class ServerMetrics:
    """The gRPC metrics of one server, in a registry of its own (many servers share a process)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.requests = Counter(
            "cocore_grpc_requests",
            "gRPC requests handled, by final status code.",
            ["service", "method", "code"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "cocore_grpc_request_duration_seconds",
            "Time from a request's arrival to its final status.",
            ["service", "method"],
            buckets=DURATION_BUCKETS_S,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "cocore_grpc_requests_in_flight",
            "gRPC requests being handled now.",
            ["service", "method"],
            registry=self.registry,
        )


class MetricsInterceptor(GuardInterceptor):
    """Counts and times every call; sits outermost so it sees the final status code."""

    def __init__(self, metrics: ServerMetrics) -> None:
        super().__init__()
        self.metrics = metrics
        self._by_method: dict[str, _MethodMetrics] = {}

    def guard(self, context: Any, method: str) -> AbstractAsyncContextManager[None]:
        found = self._by_method.get(method)
        if found is None:
            found = self._by_method[method] = _MethodMetrics(self.metrics, method)
        return _measured(found, context)


class _MethodMetrics:
    """One method's labelled series, looked up once (labels() costs more than the update)."""

    def __init__(self, metrics: ServerMetrics, method: str) -> None:
        service, _, name = method.lstrip("/").rpartition("/")
        self.in_flight = metrics.in_flight.labels(service, name)
        self.duration = metrics.duration.labels(service, name)
        self._requests = metrics.requests
        self._labels = (service, name)
        self._counters: dict[grpc.StatusCode, Any] = {}

    def count(self, code: grpc.StatusCode) -> None:
        counter = self._counters.get(code)
        if counter is None:
            counter = self._counters[code] = self._requests.labels(*self._labels, code.name)
        counter.inc()


@asynccontextmanager
async def _measured(method: _MethodMetrics, context: Any) -> AsyncIterator[None]:
    method.in_flight.inc()
    started = time.perf_counter()
    code = grpc.StatusCode.UNKNOWN
    try:
        yield
        code = context.code() or grpc.StatusCode.OK
    except grpc.aio.AbortError:
        code = context.code() or grpc.StatusCode.UNKNOWN
        raise
    except (asyncio.CancelledError, GeneratorExit):
        code = grpc.StatusCode.CANCELLED
        raise
    finally:
        method.in_flight.dec()
        method.duration.observe(time.perf_counter() - started)
        method.count(code)
