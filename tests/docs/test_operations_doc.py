"""`docs/operations.md` against the code, so the page cannot rot.

- Every `grpcurl` example names a method that exists in the generated descriptors, and its
  `-d` body parses as that method's request message (unknown fields fail).
- Every method of every service has an example (or a `describe`, for the three that are
  not by-hand calls), and every server has a health check example.
- The credentials an example sends authenticate with the services' real checks, and carry the
  role the handler requires (read from the handler's own `require_*` call).
- The metric tables list exactly the metrics the services register, with their types and labels.
"""

from __future__ import annotations

import inspect
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from envoy.service.auth.v3 import external_auth_pb2  # noqa: F401
from google.protobuf import descriptor_pool, json_format, message_factory
from google.protobuf.descriptor import MethodDescriptor
from grpc_health.v1 import health_pb2
from prometheus_client import REGISTRY, CollectorRegistry

# Imported for their descriptors: the examples are checked against the default pool.
import cocore.proto.appview.v1.appview_pb2
import cocore.proto.exchange.v1.exchange_pb2
import cocore.proto.matchmaker.v1.matchmaker_pb2  # noqa: F401
from cocore.errors import CocoreError
from cocore.rpc.metrics import ServerMetrics
from services.appview.events import Events as AppViewEvents
from services.exchange import auth as exchange_auth
from services.exchange import config as exchange_config
from services.exchange import events as exchange_events
from services.exchange.handlers import ExchangeServicer
from services.gateway import events as gateway_events
from services.matchmaker import config as matchmaker_config
from services.matchmaker.events import MatchmakerEvents
from services.matchmaker.service_auth import ServiceCredential
from services.provider import events as provider_events
from tests.conftest import REPO

DOC = REPO / "docs" / "operations.md"
POOL = descriptor_pool.Default()
SERVICES = (
    "cocore.exchange.v1.Exchange", "cocore.matchmaker.v1.Matchmaker",
    "cocore.matchmaker.v1.ProviderLink", "cocore.appview.v1.AppView",
    "envoy.service.auth.v3.Authorization",
)  # fmt: skip
NOT_BY_HAND = {
    "cocore.matchmaker.v1.Matchmaker.Dispatch",
    "cocore.matchmaker.v1.Matchmaker.DispatchStream",
    "cocore.matchmaker.v1.ProviderLink",
}
FLAGS_WITH_VALUE = {"-d", "-H"}
FLAGS = {"-plaintext", "-v"}
SAMPLE_DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"


@dataclass
class Example:
    line: str
    headers: list[str] = field(default_factory=list)
    body: str | None = None
    positional: list[str] = field(default_factory=list)
    block: str = ""


def code_blocks(text: str) -> list[str]:
    return re.findall(r"```(?:sh)?\n(.*?)```", text, flags=re.S)


def grpcurl_examples(text: str) -> Iterator[Example]:
    for block in code_blocks(text):
        for line in block.replace("\\\n", " ").splitlines():
            tokens = shlex.split(line, comments=True)
            if not tokens or tokens[0] != "grpcurl":
                continue
            example, rest = Example(line, block=block), iter(tokens[1:])
            for token in rest:
                if token in FLAGS_WITH_VALUE:
                    value = next(rest)
                    if token == "-H":
                        example.headers.append(value)
                    else:
                        example.body = value
                elif token.startswith("-"):
                    assert token in FLAGS, f"flag {token} is not understood by this test: {line}"
                else:
                    example.positional.append(token)
            yield example


def setup_values(text: str) -> dict[str, str]:
    """The shell variables the doc's setup block assigns (`NAME=value`)."""
    return dict(re.findall(r"^([A-Z_]+)=(\S+)", text, flags=re.M))


def method_of(example: Example) -> MethodDescriptor | None:
    address, *rest = example.positional
    assert address.startswith("$COCORE_") and address.endswith("_ADDR"), example.line
    if rest[0] in ("list", "describe"):
        return None
    (name,) = rest
    service, _, method = name.partition("/")
    found = POOL.FindServiceByName(service).methods_by_name.get(method)
    assert found is not None, f"{name} does not exist: {example.line}"
    return found


@pytest.fixture(scope="module")
def text() -> str:
    return DOC.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def examples(text: str) -> list[Example]:
    found = list(grpcurl_examples(text))
    assert len(found) > 40
    return found


def test_every_example_names_a_real_method_and_a_valid_request(examples: list[Example]) -> None:
    for example in examples:
        method = method_of(example)
        if method is None:
            continue
        request = message_factory.GetMessageClass(method.input_type)()
        if example.body is not None:
            json_format.Parse(example.body, request)  # raises on an unknown field or bad value


def test_describe_and_list_name_real_symbols(examples: list[Example]) -> None:
    described = [e.positional[2] for e in examples if e.positional[1] == "describe"]
    assert described
    for symbol in described:
        assert _symbol_exists(symbol), symbol


def test_every_method_of_every_service_has_an_example(examples: list[Example]) -> None:
    called = {m.full_name for e in examples if (m := method_of(e)) is not None}
    described = {e.positional[2] for e in examples if e.positional[1] == "describe"}
    assert described >= NOT_BY_HAND
    for service in SERVICES:
        for method in POOL.FindServiceByName(service).methods:
            if method.full_name in NOT_BY_HAND or service in NOT_BY_HAND:
                continue
            assert method.full_name in called, f"no grpcurl example calls {method.full_name}"


def test_every_server_has_a_health_check_example(examples: list[Example]) -> None:
    checked = {
        json_format.Parse(e.body or "{}", health_pb2.HealthCheckRequest()).service
        for e in examples
        if (m := method_of(e)) is not None and m.full_name == "grpc.health.v1.Health.Check"
    }
    assert set(SERVICES) | {""} <= checked


def test_the_setup_uses_the_services_dev_credentials(text: str) -> None:
    values = setup_values(text)
    assert values["OPERATOR"] == exchange_config.DEV_OPERATOR_TOKEN
    assert values["GATEWAY_TOKEN"] == exchange_config.DEV_SERVICE_TOKEN
    assert values["MM_TOKEN"] == matchmaker_config.DEV_TOKEN


async def test_exchange_examples_authenticate_with_the_role_the_handler_requires(
    text: str, examples: list[Example]
) -> None:
    values = setup_values(text)
    authenticator = exchange_auth.Authenticator(
        values["OPERATOR"], [("gateway", values["GATEWAY_TOKEN"])], verifier=None
    )
    checked = 0
    for example in examples:
        method = method_of(example)
        if method is None or method.containing_service.full_name != SERVICES[0]:
            continue
        metadata = [_header(h, values) for h in example.headers]
        if any(v == "Bearer $JWT" for _, v in metadata):  # a member's service-auth token
            lxm = re.search(r"lxm=([\w.]+)", example.block)
            assert lxm is not None and lxm.group(1) == method.full_name, example.line
            assert _required_role(method.name) == "owner", example.line
            continue
        caller = await authenticator.authenticate(metadata, f"/{SERVICES[0]}/{method.name}")
        request = message_factory.GetMessageClass(method.input_type)()
        json_format.Parse(_expand(example.body or "{}", values), request)
        _allowed(_required_role(method.name), caller, getattr(request, "did", ""))
        checked += 1
    assert checked >= 14


def test_matchmaker_examples_carry_the_service_credential(
    text: str, examples: list[Example]
) -> None:
    values = setup_values(text)
    credential = ServiceCredential(matchmaker_config.DEV_TOKEN)
    checked = 0
    for example in examples:
        method = method_of(example)
        if method is None or method.containing_service.full_name != SERVICES[1]:
            continue
        context = SimpleNamespace(invocation_metadata=lambda e=example: [
            _header(h, values) for h in e.headers
        ])  # fmt: skip
        credential.check(context)
        checked += 1
    assert checked == 3  # ListProviders, Pick, ReleaseLease


def test_appview_authz_and_health_examples_send_no_credentials(examples: list[Example]) -> None:
    for example in examples:
        method = method_of(example)
        service = method.containing_service.full_name if method else ""
        if service in ("cocore.appview.v1.AppView", "envoy.service.auth.v3.Authorization",
                       "grpc.health.v1.Health"):  # fmt: skip
            assert example.headers == [], example.line


# ------------------------------------------------------------------ metrics


def registries() -> dict[str, CollectorRegistry]:
    return {
        "grpc": ServerMetrics().registry,
        "exchange": exchange_events.REGISTRY,
        "matchmaker": MatchmakerEvents().registry,
        "appview": AppViewEvents().registry,
        "gateway": gateway_events.REGISTRY,
        "provider": provider_events.REGISTRY,
        "default": REGISTRY,
    }


def registered() -> dict[str, tuple[str, tuple[str, ...]]]:
    """Every cocore metric as Prometheus shows it: name → (type, label names)."""
    found: dict[str, tuple[str, tuple[str, ...]]] = {}
    for registry in registries().values():
        # Label names are not public API: read them from the collectors the registry holds.
        collectors = list(registry._collector_to_names)
        for family in registry.collect():
            if not family.name.startswith("cocore_"):
                continue
            owner = next(c for c in collectors if family.name in registry._collector_to_names[c])
            name = family.name + ("_total" if family.type == "counter" else "")
            found[name] = (family.type, tuple(getattr(owner, "_labelnames", ())))
    return found


def documented(text: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    rows = re.findall(
        r"^\| `(cocore_\w+)` \| (counter|gauge|histogram) \| ([^|]+) \|", text, flags=re.M
    )
    out: dict[str, tuple[str, tuple[str, ...]]] = {}
    for name, kind, labels in rows:
        assert name not in out, f"{name} is documented twice"
        names = () if labels.strip() == "—" else tuple(x.strip() for x in labels.split(","))
        out[name] = (kind, names)
    return out


def test_every_registered_metric_is_documented_with_its_type_and_labels(text: str) -> None:
    code, doc = registered(), documented(text)
    assert len(code) > 40
    assert sorted(set(code) - set(doc)) == [], "metrics missing from docs/operations.md"
    assert sorted(set(doc) - set(code)) == [], "documented metrics the code does not register"
    for name, (kind, labels) in code.items():
        assert doc[name] == (kind, labels), name


def test_no_metric_is_defined_outside_the_registries_above() -> None:
    """A new metrics module must be added to `registries()`, or its metrics would go unchecked."""
    defined: set[str] = set()
    pattern = re.compile(r"(?:Counter|Gauge|Histogram|Summary)\(\s*\"(cocore_\w+)\"", re.S)
    for root in (REPO / "libs" / "cocore", REPO / "services"):
        for path in root.rglob("*.py"):
            if "proto" not in path.parts:
                defined |= set(pattern.findall(path.read_text(encoding="utf-8")))
    families = {n.removesuffix("_total") for n in registered()}
    assert len(defined) > 40
    assert defined <= families, sorted(defined - families)


# ------------------------------------------------------------------ helpers


def _symbol_exists(symbol: str) -> bool:
    lookups = (POOL.FindServiceByName, POOL.FindMessageTypeByName)
    for lookup in lookups:
        try:
            lookup(symbol)
            return True
        except KeyError:
            pass
    service, _, method = symbol.rpartition(".")
    try:
        return method in POOL.FindServiceByName(service).methods_by_name
    except KeyError:
        return False


def _expand(value: str, values: dict[str, str]) -> str:
    value = re.sub(r"\$COCORE_\w+_DID", SAMPLE_DID, value)
    return re.sub(r"\$([A-Z_]+)", lambda m: values.get(m.group(1), m.group(0)), value)


def _header(raw: str, values: dict[str, str]) -> tuple[str, str]:
    name, _, value = raw.partition(":")
    expanded = value.strip() if "$JWT" in value else _expand(value.strip(), values)
    return name.strip().lower(), expanded


def _required_role(method: str) -> str:
    """Which `require_*` the handler calls first: its own source says who may call it."""
    source = inspect.getsource(getattr(ExchangeServicer, method))
    calls = re.findall(r"require_(operator|service|owner)\(", source)
    return calls[0] if calls else "any"


def _allowed(role: str, caller: exchange_auth.Caller, did: str) -> None:
    checks: dict[str, Any] = {
        "operator": exchange_auth.require_operator,
        "service": exchange_auth.require_service,
        "owner": lambda c: exchange_auth.require_owner(c, did),
        "any": lambda c: None,
    }
    try:
        checks[role](caller)
    except CocoreError as e:
        pytest.fail(f"{caller.role} may not call a `{role}` method: {e.message}")
