"""Fuzz the gateway's HTTP API from its own OpenAPI document (schemathesis).

Negative mode (every body breaks the schema somewhere) over every operation with a body but
wipe: each is refused, never with a 5xx, and nothing changes (keys, balance, holds, queued
and published records).
Positive mode over the inference routes, narrowed to the tiny model so requests really run
end to end: never a 5xx, and every answer matches the documented response schema.
"""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import schemathesis.specs.openapi.schemas  # compiled at collection: see below
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis.errors import Unsatisfiable
from jsonschema import Draft202012Validator
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import response_schema_conformance

from services.gateway.config import GatewayConfig
from services.gateway.http.openapi import document
from services.gateway.server import start
from tests.network import TINY, TestNetwork, _gateway_config

# `schemathesis.openapi.from_dict` imports its OpenAPI modules on first use, which pytest
# compiles (assertion rewriting of a plugin); imported above, they are compiled at collection,
# not beside the network's threads. CPython 3.11's cross-thread AST race (python/cpython#106905)
# is closed for the whole test process by tests/fixtures/ast_guard.py.

pytestmark = [pytest.mark.pds, pytest.mark.slow]
SKIP = ("/v1/account/wipe",)
ROUTING = ("country", "min_provider_version", "min_trust", "pro_bono", "friends_only",
           "provider", "tools", "tool_choice")  # fmt: skip


def positive_document() -> dict[str, Any]:
    doc = copy.deepcopy(document())
    for name in ("ChatRequest", "CompletionRequest"):
        props = doc["components"]["schemas"][name]["properties"]
        props["model"] = {"const": TINY}
        for key in ("max_tokens", "max_completion_tokens"):
            if key in props:
                props[key] = {"type": "integer", "minimum": 1, "maximum": 6}
        for key in ROUTING:
            props.pop(key, None)
    return doc


@dataclass(frozen=True)
class Fuzz:
    doc: dict[str, Any]
    url: str
    key: str
    mode: Any
    examples: int
    checks: list[Any]
    paths: tuple[str, ...] | None = None

    @property
    def negative(self) -> bool:
        return bool(self.mode == schemathesis.GenerationMode.NEGATIVE)

    def run(self) -> list[str]:
        """Runs in a worker thread (the gateway serves from the test's event loop)."""
        failures: list[str] = []
        for result in schemathesis.openapi.from_dict(self.doc).get_all_operations():
            assert isinstance(result, Ok)  # an Err has no .ok(): the document must be valid
            op = result.ok()
            if op.path in SKIP or (self.paths is not None and op.path not in self.paths):
                continue
            if self.negative and not op.body:
                continue  # nothing to break but headers and query, which the gateway ignores
            try:
                self._operation(op, failures)
            except Unsatisfiable:
                continue  # nothing in this operation can be made invalid
        return failures

    def _operation(self, op: Any, failures: list[str]) -> None:
        # Negative cases break the body only (unknown headers and query are ignored by design).
        fixed: dict[str, dict[str, Any]] = {"headers": {}, "query": {}} if self.negative else {}
        body_schema = None
        if self.negative:
            body_schema = _body_validator(self.doc, op.path, op.method.lower())

        @given(case=op.as_strategy(generation_mode=self.mode, **fixed))
        @settings(max_examples=self.examples, deadline=None, database=None, derandomize=True,
                  phases=[Phase.generate], suppress_health_check=list(HealthCheck))  # fmt: skip
        def run(case: Any) -> None:
            if body_schema is not None:
                # Only bodies that really break the schema (negative mode also mutates
                # parts the gateway ignores); a valid body may legitimately change state.
                assume(not body_schema.is_valid(case.body))
            response = case.call(base_url=self.url, timeout=60,
                                 headers={"authorization": f"Bearer {self.key}"})  # fmt: skip
            if self.negative and response.status_code < 300:
                failures.append(f"{op.label}: accepted invalid input {str(case.body)[:300]}")
            try:
                case.validate_response(response, checks=self.checks)
            except Exception as e:  # noqa: BLE001 - collect every failure, report them all
                failures.append(f"{op.label}: {response.status_code} {type(e).__name__}: "
                                f"{str(e)[:300]}")  # fmt: skip

        run()


def _body_validator(doc: dict[str, Any], path: str, method: str) -> Draft202012Validator:
    body = doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    return Draft202012Validator({**body, "components": doc["components"]})


async def state(net: TestNetwork, gw: Any, did: str) -> dict[str, Any]:
    client = net.stack.anonymous()
    described = await client.describe_repo(did)  # type: ignore[arg-type]
    records = sorted([
        str(v.uri)
        for c in described.collections if str(c).startswith("dev.cocore.")
        for v in (await client.list_records(did, c, 100)).records  # type: ignore[arg-type]
    ])  # fmt: skip
    balance = await gw.ctx.exchange.balance(did)
    # lastUsedAt moves with every authenticated call, accepted or not: it is not the input's doing
    keys = [{k: v for k, v in key.items() if k != "lastUsedAt"}
            for key in await gw.ctx.keys.list_keys(did)]  # fmt: skip
    return {"keys": keys, "balance": balance,
            "queued": await gw.ctx.outbox.pending(did), "records": records}  # fmt: skip


async def test_fuzz_the_api_from_its_openapi_document(network: TestNetwork, tmp_path: Path) -> None:
    # A gateway with the default limits (the shared one allows huge max_tokens for a 402 test).
    config: GatewayConfig = _gateway_config(network.stack, tmp_path, network.exchange,
                                            network.matchmaker)  # fmt: skip
    config = GatewayConfig(**{**{f: getattr(config, f) for f in config.__dataclass_fields__},
                              "limits": GatewayConfig().limits, "settle_wait_ms": 0})  # fmt: skip
    gw = await start(config)
    try:
        user = await network.user()
        import httpx

        async with httpx.AsyncClient(base_url=gw.url) as http:  # the same DID, this gateway
            r = await http.post("/v1/account/login", json={
                "identifier": user.did, "password": user.account.password})  # fmt: skip
            key = r.json()["secret"]
        # One real answer first, so the account is a member with a settled history.
        await network.openai(key, base=gw.url).chat.completions.create(
            model=TINY, messages=[{"role": "user", "content": "ka"}], max_tokens=1
        )
        await asyncio.sleep(0.5)
        before = await state(network, gw, user.did)
        negative = await asyncio.to_thread(Fuzz(
            document(), gw.url, key, schemathesis.GenerationMode.NEGATIVE, 25,
            [not_a_server_error]).run)  # fmt: skip
        await asyncio.sleep(0.5)
        assert negative == [], "\n".join(negative)
        assert await state(network, gw, user.did) == before  # rejected input changed nothing

        positive = await asyncio.to_thread(Fuzz(
            positive_document(), gw.url, key, schemathesis.GenerationMode.POSITIVE, 20,
            [not_a_server_error, response_schema_conformance],
            ("/v1/chat/completions", "/v1/completions", "/v1/models")).run)  # fmt: skip
        assert positive == [], "\n".join(positive)
    finally:
        await gw.stop()
