"""The gRPC runtime end to end: real grpc.aio servers from `start_server` on 127.0.0.1:0."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import grpc
import httpx
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from prometheus_client.parser import text_string_to_metric_families

from cocore import errors
from cocore.proto.testing.v1 import echo_pb2, echo_pb2_grpc
from cocore.rpc import BindError, RunningServer, ServerConfig, error_from_rpc, start_server
from cocore.rpc.errors import INTERNAL_MESSAGE, STATUS_BY_GROUP
from tests.fixtures.echo import ECHO, GROUPS, UNEXPECTED_MESSAGE, register

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@pytest.fixture(scope="module")
async def running() -> AsyncIterator[RunningServer]:
    async with await start_server(ServerConfig(grace_s=1), register) as server:
        yield server


@pytest.fixture(scope="module")
async def channel(running: RunningServer) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(running.address) as channel:
        yield channel


@pytest.fixture
def echo(channel: grpc.aio.Channel) -> echo_pb2_grpc.EchoStub:
    return echo_pb2_grpc.EchoStub(channel)


async def test_binds_an_ephemeral_port_on_loopback(running: RunningServer) -> None:
    assert running.port > 0
    assert running.address == f"127.0.0.1:{running.port}"
    assert running.services == (ECHO,)


async def test_unary(echo: echo_pb2_grpc.EchoStub) -> None:
    reply = await echo.Say(echo_pb2.SayRequest(text="hello ‖ world"))
    assert reply.text == "hello ‖ world"


async def test_server_streaming(echo: echo_pb2_grpc.EchoStub) -> None:
    replies = [r.index async for r in echo.Count(echo_pb2.CountRequest(count=5))]
    assert replies == [0, 1, 2, 3, 4]


async def test_health_serving_for_each_service(channel: grpc.aio.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for name in ("", ECHO):
        reply = await health.Check(health_pb2.HealthCheckRequest(service=name))
        assert reply.status == SERVING, name
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize("group_name", sorted(GROUPS))
async def test_error_group_maps_to_status(echo: echo_pb2_grpc.EchoStub, group_name: str) -> None:
    group = GROUPS[group_name]
    request = echo_pb2.FailRequest(
        group=group_name, code="some_code", message="one line", details={"n": "7"}
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await echo.Fail(request)
    rpc_error = caught.value
    assert rpc_error.code() == STATUS_BY_GROUP[group]
    assert rpc_error.details() == "one line"
    info = _error_info(rpc_error)
    assert (info.reason, info.domain, dict(info.metadata)) == ("some_code", "cocore", {"n": "7"})

    rebuilt = error_from_rpc(rpc_error)
    assert type(rebuilt) is group
    assert (rebuilt.code, rebuilt.message, rebuilt.details) == ("some_code", "one line", {"n": "7"})


async def test_error_without_code_carries_the_group_default(echo: echo_pb2_grpc.EchoStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await echo.Fail(echo_pb2.FailRequest(group="NotFound", message="no such job"))
    rebuilt = error_from_rpc(caught.value)
    assert isinstance(rebuilt, errors.NotFound)
    assert rebuilt.code == "not_found"


async def test_unexpected_exception_is_a_generic_internal(
    echo: echo_pb2_grpc.EchoStub, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.ERROR, logger="cocore.rpc.errors"),
        pytest.raises(grpc.aio.AioRpcError) as caught,
    ):
        await echo.Fail(echo_pb2.FailRequest(group="NoSuchGroup", message="request text"))
    rpc_error = caught.value
    assert rpc_error.code() == grpc.StatusCode.INTERNAL
    assert rpc_error.details() == INTERNAL_MESSAGE
    assert "boom" not in str(rpc_error.trailing_metadata())
    assert _error_info(rpc_error).reason == "internal"
    rebuilt = error_from_rpc(rpc_error)
    assert type(rebuilt) is errors.CocoreError
    # The server logs the traceback under the method name, never the request.
    (record,) = [r for r in caplog.records if r.name == "cocore.rpc.errors"]
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == UNEXPECTED_MESSAGE
    assert "/cocore.testing.v1.Echo/Fail" in record.getMessage()
    assert "request text" not in caplog.text


async def test_streaming_error_after_replies(echo: echo_pb2_grpc.EchoStub) -> None:
    call = echo.Count(echo_pb2.CountRequest(count=5, fail_at=2))
    received = []
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for reply in call:
            received.append(reply.index)
    assert received == [0, 1]
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    rebuilt = error_from_rpc(caught.value)
    assert (type(rebuilt), rebuilt.code, rebuilt.details) == (
        errors.InvalidInput,
        "mid_stream",
        {"at": "2"},
    )


async def test_oversized_request_is_resource_exhausted_and_server_keeps_serving() -> None:
    config = ServerConfig(max_message_bytes=1024, metrics_port=None)
    async with (
        await start_server(config, register) as server,
        grpc.aio.insecure_channel(server.address) as channel,
    ):
        echo = echo_pb2_grpc.EchoStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await echo.Say(echo_pb2.SayRequest(text="x" * 4096))
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert (await echo.Say(echo_pb2.SayRequest(text="small"))).text == "small"


async def test_health_turns_not_serving_on_stop() -> None:
    server = await start_server(ServerConfig(metrics_port=None), register)
    async with grpc.aio.insecure_channel(server.address) as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service=ECHO)
        )
        assert (await watch.read()).status == SERVING
        stopping = asyncio.create_task(server.stop(grace_s=5))
        assert (await watch.read()).status == NOT_SERVING
        watch.cancel()  # the watch is the last in-flight call, so the drain ends here
        await asyncio.wait_for(stopping, timeout=5)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await echo_pb2_grpc.EchoStub(channel).Say(echo_pb2.SayRequest(text="late"))
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_metrics_endpoint_counts_requests() -> None:
    async with (
        await start_server(ServerConfig(), register) as server,
        grpc.aio.insecure_channel(server.address) as channel,
    ):
        echo = echo_pb2_grpc.EchoStub(channel)
        for _ in range(3):
            await echo.Say(echo_pb2.SayRequest(text="hi"))
        with pytest.raises(grpc.aio.AioRpcError):
            await echo.Fail(echo_pb2.FailRequest(group="NotFound"))
        _ = [r async for r in echo.Count(echo_pb2.CountRequest(count=2))]
        assert server.metrics_endpoint is not None
        async with httpx.AsyncClient() as http:
            response = await http.get(server.metrics_endpoint.url)
    assert response.status_code == 200
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    echo_labels = {"service": ECHO}
    assert value("cocore_grpc_requests_total", **echo_labels, method="Say", code="OK") == 3
    assert value("cocore_grpc_requests_total", **echo_labels, method="Fail", code="NOT_FOUND") == 1
    assert value("cocore_grpc_requests_total", **echo_labels, method="Count", code="OK") == 1
    assert value("cocore_grpc_request_duration_seconds_count", **echo_labels, method="Say") == 3
    assert value("cocore_grpc_requests_in_flight", **echo_labels, method="Say") == 0


async def test_servers_keep_separate_metrics(running: RunningServer) -> None:
    async with await start_server(ServerConfig(metrics_port=None), register) as other:
        assert other.metrics.registry is not running.metrics.registry


async def test_second_server_on_a_taken_port_fails_to_bind(running: RunningServer) -> None:
    with pytest.raises(BindError):
        await start_server(ServerConfig(port=running.port), register)


async def test_taken_metrics_port_leaves_the_grpc_port_free(running: RunningServer) -> None:
    assert running.metrics_endpoint is not None
    probe = await start_server(ServerConfig(metrics_port=None), register)
    grpc_port = probe.port  # a port known to be free once the probe stops
    await probe.stop(grace_s=0)
    config = ServerConfig(port=grpc_port, metrics_port=running.metrics_endpoint.port)
    with pytest.raises(BindError, match="metrics"):
        await start_server(config, register)
    again = await start_server(ServerConfig(port=grpc_port, metrics_port=None), register)
    await again.stop(grace_s=0)


async def test_transport_failure_rebuilds_as_unavailable() -> None:
    server = await start_server(ServerConfig(metrics_port=None), register)
    address = server.address
    await server.stop(grace_s=0)
    async with grpc.aio.insecure_channel(address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await echo_pb2_grpc.EchoStub(channel).Say(echo_pb2.SayRequest(), timeout=5)
    rebuilt = error_from_rpc(caught.value)
    assert isinstance(rebuilt, errors.Unavailable)
    assert rebuilt.code == "unavailable"


def _error_info(rpc_error: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    status = rpc_status.from_call(rpc_error)  # also checks code and message agree with the call
    assert status is not None
    (detail,) = status.details
    info = error_details_pb2.ErrorInfo()
    assert detail.Unpack(info)
    return info
