"""bench/gateway's floor (bench/_floor.py): real processes, Envoy and ext_authz, each route
answered by the part it names — so the floor rows measure the chain they claim to."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bench._floor import DENY, LOCAL, Floor
from bench._request import generation_request
from services.provider.engine import Delta, EngineConfig, ModelSpec, load_engine
from services.provider.models import TINY_ID


@pytest.fixture
async def floor(tmp_path: Path, tiny_model_dir: Path) -> AsyncIterator[Floor]:
    running = await Floor.start(tmp_path / "floor", tiny_model_dir)
    yield running
    await running.close()


async def first_token(model: Path) -> str:
    engine = await load_engine(EngineConfig((ModelSpec(TINY_ID, model),)))
    try:
        async with engine.generate(generation_request()) as stream:
            async for item in stream:
                if isinstance(item, Delta) and item.text:
                    return item.text
    finally:
        await engine.stop()
    raise AssertionError("the engine gave no text")


def content(body: str) -> str:
    lines = [line.removeprefix("data: ") for line in body.splitlines() if line.startswith("data:")]
    assert lines[-1] == "[DONE]"
    chunk = json.loads(lines[0])
    return str(chunk["choices"][0]["delta"]["content"])


async def test_each_route_is_answered_by_the_part_it_names(
    floor: Floor, tiny_model_dir: Path
) -> None:
    expected = await first_token(tiny_model_dir)
    for base in (floor.edge.url, floor.gateway_url):
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            got = {}
            for route in ("local", "relay", "engine"):
                r = await http.post(f"/v1/floor/{route}", json={},
                                    headers={"authorization": "Bearer x"})  # fmt: skip
                assert r.status_code == 200, (base, route, r.text)
                assert r.headers["content-type"].startswith("text/event-stream")
                got[route] = content(r.text)
        assert got == {"local": LOCAL, "relay": "", "engine": expected}, base


async def test_envoy_asks_the_floors_ext_authz_on_every_request(floor: Floor) -> None:
    async with httpx.AsyncClient(base_url=floor.edge.url, timeout=30) as http:
        for route in ("local", "relay", "engine"):
            r = await http.post(f"/v1/floor/{route}", json={}, headers={DENY: "1"})
            assert r.status_code == 403, route
            assert "data:" not in r.text
        r = await http.post("/v1/floor/relay", json={})  # and lets the next one on
        assert r.status_code == 200
        assert content(r.text) == ""
