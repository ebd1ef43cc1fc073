"""gRPC over TLS: a server with PEM files, clients that trust it (or not), and the rule for
when a provider dials with TLS."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cocore.rpc import ConfigError, ServerConfig, is_loopback, open_channel, start_server
from services.provider.config import ProviderConfig
from tests.fixtures.tls import self_signed


async def _health(address: str, **tls: object) -> int:
    async with open_channel(address, **tls) as channel:  # type: ignore[arg-type]
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=3
        )
        return int(reply.status)


async def test_a_tls_server_answers_only_clients_that_trust_its_certificate(
    tmp_path: Path,
) -> None:
    certs = self_signed(tmp_path / "a")
    other = self_signed(tmp_path / "b")
    config = ServerConfig(metrics_port=None, grace_s=0, tls_cert_file=str(certs.cert),
                          tls_key_file=str(certs.key))  # fmt: skip
    running = await start_server(config, lambda server: [])
    try:
        address = f"127.0.0.1:{running.port}"
        serving = health_pb2.HealthCheckResponse.SERVING
        assert await _health(address, tls=True, ca_file=str(certs.cert)) == serving
        for wrong in ({"tls": False}, {"tls": True, "ca_file": str(other.cert)}):
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await _health(address, **wrong)
            assert e.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await running.stop()


def test_tls_needs_both_files_and_readable_pem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        ServerConfig(tls_cert_file=str(tmp_path / "x.crt"))
    env = {"COCORE_X_TLS_CERT_FILE": "a.crt", "COCORE_X_TLS_KEY_FILE": "a.key"}
    parsed = ServerConfig.from_env(env, "COCORE_X_")
    assert (parsed.tls_cert_file, parsed.tls_key_file) == ("a.crt", "a.key")


async def test_unreadable_tls_files_refuse_to_start(
    tmp_path: Path,
) -> None:
    (tmp_path / "junk.crt").write_text("not a certificate")
    config = ServerConfig(grace_s=0, tls_cert_file=str(tmp_path / "junk.crt"),
                          tls_key_file=str(tmp_path / "missing.key"))  # fmt: skip
    with pytest.raises(ConfigError, match="cannot read the TLS key"):
        await start_server(config, lambda server: [])


@pytest.mark.parametrize(
    ("address", "loopback"),
    [("127.0.0.1:50051", True), ("127.8.9.1:1", True), ("localhost:443", True),
     ("[::1]:50051", True), ("matchmaker.cocore.example:443", False), ("10.0.0.7:50051", False),
     ("203.0.113.9:443", False)],
)  # fmt: skip
def test_providers_use_tls_unless_the_matchmaker_is_on_this_machine(
    tmp_path: Path, address: str, loopback: bool
) -> None:
    assert is_loopback(address) is loopback
    auto = ProviderConfig.from_values(tmp_path, {"matchmaker": address})
    assert auto.matchmaker_uses_tls is not loopback
    forced = {v: ProviderConfig.from_values(tmp_path, {"matchmaker": address,
                                                       "matchmaker_tls": v})
              for v in ("on", "off")}  # fmt: skip
    assert forced["on"].matchmaker_uses_tls and not forced["off"].matchmaker_uses_tls


def test_a_bad_tls_setting_is_refused(tmp_path: Path) -> None:
    from services.provider.errors import ConfigError as ProviderConfigError

    with pytest.raises(ProviderConfigError, match="matchmaker_tls"):
        ProviderConfig.from_values(tmp_path, {"matchmaker_tls": "sometimes"})
