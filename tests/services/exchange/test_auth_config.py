"""Who may call what, and the configuration's parsing and refusals."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cocore.atproto import AtprotoKey, ServiceAuthVerifier, SigningKey, mint_service_jwt
from cocore.rpc import ConfigError
from cocore.syntax import Did, parse_did
from services.exchange.auth import (
    ACTOR_HEADER,
    Authenticator,
    Role,
    method_lxm,
    require_operator,
    require_owner,
    require_service,
)
from services.exchange.config import DEV_OPERATOR_TOKEN, Config
from services.exchange.errors import (
    BadCredentials,
    MissingCredentials,
    NotOwner,
    OperatorOnly,
    ServiceOnly,
)

EXCHANGE = "did:plc:exchangeexchangeexchange"
ALICE = parse_did("did:plc:aliceealiceealiceealicee")
METHOD = "/cocore.exchange.v1.Exchange/GetBalance"


class _Keys:
    def __init__(self, keys: dict[Did, AtprotoKey]) -> None:
        self.keys = keys

    async def atproto_key(self, did: Did, *, fresh: bool = False) -> AtprotoKey:
        return self.keys[did]


ALICE_KEY = SigningKey.generate("ES256")
AUTH = Authenticator(
    "operator-secret", [("gateway", "gateway-secret"), ("appview", "appview-secret")],
    ServiceAuthVerifier(EXCHANGE, _Keys({ALICE: ALICE_KEY.public})),
)  # fmt: skip


def _bearer(token: str, **more: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}"), *more.items()]


async def test_operator_service_and_owner_credentials() -> None:
    operator = await AUTH.authenticate(_bearer("operator-secret"), METHOD)
    assert operator.role is Role.OPERATOR
    require_operator(operator)
    require_owner(operator, "did:plc:anyoneanyoneanyoneanyone")

    gateway = await AUTH.authenticate(_bearer("gateway-secret", **{ACTOR_HEADER: ALICE}), METHOD)
    assert (gateway.role, gateway.name, gateway.acting_for) == (Role.SERVICE, "gateway", ALICE)
    require_service(gateway)
    require_owner(gateway, ALICE)
    with pytest.raises(NotOwner):
        require_owner(gateway, "did:plc:bobbbbobbbbobbbbobbbbobb")
    with pytest.raises(OperatorOnly):
        require_operator(gateway)

    now = int(time.time())
    token = mint_service_jwt(ALICE_KEY, iss=ALICE, aud=EXCHANGE, lxm=method_lxm(METHOD), now=now)
    owner = await AUTH.authenticate(_bearer(token), METHOD)
    assert (owner.role, owner.acting_for) == (Role.OWNER, ALICE)
    require_owner(owner, ALICE)
    with pytest.raises(ServiceOnly):
        require_service(owner)
    with pytest.raises(BadCredentials):  # bound to GetBalance, so not good for ListEvents
        await AUTH.authenticate(_bearer(token), "/cocore.exchange.v1.Exchange/ListEvents")


@pytest.mark.parametrize(
    ("metadata", "error"),
    [
        ([], MissingCredentials),
        ([("authorization", "Basic abc")], MissingCredentials),
        ([("authorization", "Bearer ")], MissingCredentials),
        (_bearer("guess"), BadCredentials),
        (_bearer("a.b.c"), BadCredentials),
        (_bearer("gateway-secret", **{ACTOR_HEADER: "not-a-did"}), BadCredentials),
    ],
)
async def test_bad_credentials(metadata: list[tuple[str, str]], error: type[Exception]) -> None:
    with pytest.raises(error):
        await AUTH.authenticate(metadata, METHOD)


def test_config_defaults_and_variables() -> None:
    config = Config.from_env({})
    assert config.dev and config.terms.fee_bps == 500 and config.terms.currency == "CC"
    assert config.db_url.endswith("var/exchange/exchange.db")
    assert config.receipt_firehoses == (config.pds_url,)
    config = Config.from_env({
        "COCORE_EXCHANGE_FEE_BPS": "250", "COCORE_EXCHANGE_CURRENCY": "CCT",
        "COCORE_EXCHANGE_SERVICE_TOKENS": "gateway:abc,appview:def",
        "COCORE_EXCHANGE_FIREHOSES": "off", "COCORE_EXCHANGE_TREASURY_DID": ALICE,
        "COCORE_EXCHANGE_KEY_DIR": "/tmp/k", "COCORE_EXCHANGE_GRPC_PORT": "7000",
    })  # fmt: skip
    assert config.terms.fee_bps == 250 and config.terms.supported_currencies == ("CCT",)
    assert config.service_tokens == (("gateway", "abc"), ("appview", "def"))
    assert config.receipt_firehoses == () and config.terms.treasury_did == ALICE
    assert config.key_dir == Path("/tmp/k") and config.server.port == 7000


@pytest.mark.parametrize(
    "environ",
    [
        {"COCORE_EXCHANGE_FEE_BPS": "10001"},
        {"COCORE_EXCHANGE_FEE_BPS": "five"},
        {"COCORE_EXCHANGE_CURRENCY": "C"},  # 2 to 8 characters (3 in the lexicon; CC erratum)
        {"COCORE_EXCHANGE_REFRESH_CADENCE_MINUTES": "5"},
        {"COCORE_EXCHANGE_SERVICE_TOKENS": "no-colon"},
        {"COCORE_EXCHANGE_TREASURY_DID": "alice"},
        {"COCORE_EXCHANGE_ENV": "staging"},
        {"COCORE_EXCHANGE_CRASH_AT": "anywhere"},
        {"COCORE_EXCHANGE_ENV": "prod"},  # dev placeholders are refused in production
        {"COCORE_EXCHANGE_ENV": "prod", "COCORE_EXCHANGE_CRASH_AT": "outbox.after_put"},
        {"COCORE_EXCHANGE_ENV": "prod", "COCORE_EXCHANGE_OPERATOR_TOKEN": "x" * 40,
         "COCORE_EXCHANGE_SERVICE_TOKENS": "gateway:" + "y" * 40,
         "COCORE_EXCHANGE_PASSWORD": "short"},
    ],
)  # fmt: skip
def test_config_refusals(environ: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        Config.from_env(environ)


def test_prod_with_real_secrets() -> None:
    config = Config.from_env({
        "COCORE_EXCHANGE_ENV": "prod", "COCORE_EXCHANGE_OPERATOR_TOKEN": "x" * 40,
        "COCORE_EXCHANGE_SERVICE_TOKENS": "gateway:" + "y" * 40,
        "COCORE_EXCHANGE_PASSWORD": "z" * 40,
    })  # fmt: skip
    assert not config.dev and config.operator_token != DEV_OPERATOR_TOKEN
