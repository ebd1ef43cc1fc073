"""`ServerConfig`: defaults, environment parsing and the bounds it refuses."""

from __future__ import annotations

import pytest

from cocore.errors import InvalidInput
from cocore.rpc import ConfigError, ServerConfig


def test_defaults_bind_loopback_on_free_ports() -> None:
    config = ServerConfig()
    assert (config.host, config.port, config.metrics_host, config.metrics_port) == (
        "127.0.0.1",
        0,
        "127.0.0.1",
        0,
    )


def test_from_env_reads_prefixed_variables_and_keeps_defaults() -> None:
    env = {
        "COCORE_EXCHANGE_GRPC_HOST": "0.0.0.0",
        "COCORE_EXCHANGE_GRPC_PORT": "50051",
        "COCORE_EXCHANGE_METRICS_PORT": "off",
        "COCORE_EXCHANGE_GRACE_S": "2.5",
        "COCORE_EXCHANGE_MAX_MESSAGE_BYTES": "1048576",
        "COCORE_MATCHMAKER_GRPC_PORT": "9",  # another service's prefix: ignored
        "COCORE_EXCHANGE_KEEPALIVE_TIME_S": " ",  # blank: keeps the default
    }
    config = ServerConfig.from_env(env, "COCORE_EXCHANGE_")
    assert config == ServerConfig(
        host="0.0.0.0", port=50051, metrics_port=None, grace_s=2.5, max_message_bytes=1048576
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GRPC_PORT", "http"),
        ("GRPC_PORT", "70000"),
        ("METRICS_PORT", "-1"),
        ("GRACE_S", "-1"),
        ("MAX_MESSAGE_BYTES", "0"),
        ("MAX_MESSAGE_BYTES", str(1 << 30)),
        ("KEEPALIVE_TIME_S", "0"),
    ],
)
def test_bad_values_are_config_errors(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ServerConfig.from_env({f"X_{name}": value}, "X_")
    assert isinstance(caught.value, InvalidInput)
    assert caught.value.code == "invalid_config"


def test_config_is_frozen() -> None:
    config = ServerConfig()
    with pytest.raises(AttributeError):
        config.port = 1  # type: ignore[misc]
