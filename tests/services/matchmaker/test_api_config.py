"""Gateway request checks and the configuration reader."""

from __future__ import annotations

import pytest

from cocore.proto.matchmaker.v1 import matchmaker_pb2 as pb
from cocore.rpc import ConfigError
from services.matchmaker.api import pick_filter
from services.matchmaker.config import MatchmakerConfig
from services.matchmaker.dispatch.validate import validate_dispatch
from services.matchmaker.errors import DispatchInvalid
from services.matchmaker.settings import JobSettings


def test_pick_filter_reads_every_field() -> None:
    f = pick_filter(pb.PickRequest(
        model="m", requester_did="did:plc:aaaa", min_trust_level="self-attested", country="de",
        min_version="v0.9.3", needs_tools=True, friends_only=True, friends=["did:plc:bbbb"],
        exclude=[pb.ProviderKey(did="did:plc:cccc")], pro_bono=True,
    ))  # fmt: skip
    assert (
        f.country == "DE"
        and f.min_version == (0, 9, 3)
        and f.friends == frozenset({"did:plc:bbbb"})
    )
    assert f.exclude == {("did:plc:cccc", "")} and f.pro_bono and f.needs_tools


@pytest.mark.parametrize(
    "request_",
    [pb.PickRequest(), pb.PickRequest(model="m", country="USA"),
     pb.PickRequest(model="m", min_trust_level="gold"), pb.PickRequest(model="m", min_version="x"),
     pb.PickRequest(model="m", pro_bono=True), pb.PickRequest(model="m", friends=["nope"]),
     pb.PickRequest(model="m", accepted_providers=["did:x"])],
)  # fmt: skip
def test_bad_pick_requests_are_refused(request_: pb.PickRequest) -> None:
    with pytest.raises(DispatchInvalid):
        pick_filter(request_)


def attempt(**fields: object) -> pb.Attempt:
    base: dict[str, object] = dict(lease="l", sealed_input=b"x", requester_pub_key="k")
    return pb.Attempt(**{**base, **fields})  # type: ignore[arg-type]


def spec(**fields: object) -> pb.JobSpec:
    base: dict[str, object] = dict(
        requester_did="did:plc:aaaa", model="m", sampling=pb.SamplingParams(max_tokens=8)
    )
    return pb.JobSpec(**{**base, **fields})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (pb.DispatchRequest(spec=spec()), "dispatch_invalid"),
        (pb.DispatchRequest(spec=spec(), attempts=[attempt(sealed_input=b"")]), "input_too_large"),
        (
            pb.DispatchRequest(spec=spec(requester_did="x"), attempts=[attempt()]),
            "dispatch_invalid",
        ),
        (
            pb.DispatchRequest(spec=spec(tools_json=b"{bad"), attempts=[attempt()]),
            "dispatch_invalid",
        ),
        (
            pb.DispatchRequest(spec=spec(tool_choice="always"), attempts=[attempt()]),
            "dispatch_invalid",
        ),
        (
            pb.DispatchRequest(spec=spec(), attempts=[attempt(enc_scheme="rot13")]),
            "dispatch_invalid",
        ),
        (pb.DispatchRequest(spec=spec(), attempts=[attempt()] * 6), "dispatch_invalid"),
    ],
)
def test_bad_dispatches_are_refused_before_any_provider_hears(
    request_: pb.DispatchRequest, code: str
) -> None:
    with pytest.raises(DispatchInvalid) as err:
        validate_dispatch(request_, JobSettings(), single=False)
    assert err.value.code == code


def test_config_reads_settings_and_refuses_placeholders_outside_dev() -> None:
    config = MatchmakerConfig.from_env({
        "COCORE_MATCHMAKER_FIRST_CHUNK_TIMEOUT_S": "7.5", "COCORE_MATCHMAKER_WINDOW_CHUNKS": "64",
        "COCORE_MATCHMAKER_GRPC_PORT": "5000", "COCORE_MATCHMAKER_REPLICA_ID": "r9",
    })  # fmt: skip
    assert config.jobs.first_chunk_timeout_s == 7.5 and config.streams.window_chunks == 64
    assert config.server.port == 5000 and config.replica_id == "r9"
    with pytest.raises(ConfigError):
        MatchmakerConfig.from_env({"COCORE_MATCHMAKER_ENV": "prod"})
    with pytest.raises(ConfigError):
        MatchmakerConfig.from_env({"COCORE_MATCHMAKER_IDLE_TIMEOUT_S": "-1"})
    prod = MatchmakerConfig.from_env(
        {"COCORE_MATCHMAKER_ENV": "prod", "COCORE_MATCHMAKER_SERVICE_TOKEN": "s" * 32}
    )
    assert not prod.allow_insecure_loopback
