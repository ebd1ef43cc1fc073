"""GatewayConfig: the event-loop / HTTP-parser / stage-log knobs are typed and checked."""

from __future__ import annotations

import pytest

from cocore.rpc import ConfigError
from services.gateway.config import GatewayConfig


def test_defaults_are_uvloop_httptools_and_no_stage_lines() -> None:
    config = GatewayConfig.from_env({})
    assert (config.event_loop, config.http_parser, config.stage_log) == (
        "uvloop", "httptools", False,
    )  # fmt: skip


def test_the_pure_python_fallbacks_and_stage_lines_can_be_chosen() -> None:
    config = GatewayConfig.from_env({"COCORE_GATEWAY_EVENT_LOOP": "asyncio",
                                     "COCORE_GATEWAY_HTTP_PARSER": "h11",
                                     "COCORE_GATEWAY_STAGE_LOG": "1"})  # fmt: skip
    assert (config.event_loop, config.http_parser, config.stage_log) == ("asyncio", "h11", True)


@pytest.mark.parametrize(("name", "value"), [("EVENT_LOOP", "tokio"), ("HTTP_PARSER", "auto"),
                                             ("STAGE_LOG", "maybe")])  # fmt: skip
def test_unknown_values_are_refused(name: str, value: str) -> None:
    with pytest.raises(ConfigError):
        GatewayConfig.from_env({f"COCORE_GATEWAY_{name}": value})
