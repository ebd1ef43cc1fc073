"""The whole-stack tests' provider machine: the real provider agent (`services.provider.agent`:
its runner, receipts, outbox, publisher, attestation keeper and link), as `cocore-provider
serve` runs it, over one engine serving three models:

* the tiny mlx model (real weights, random);
* a scripted model for tool calls and JSON, which the tiny random model cannot make;
* a stalling model that accepts jobs and never produces a token (timeouts).

Only the engine's loader is the test's: the two extra models are fake step backends beside the
real mlx one, in the same `LocalEngine`. It records every request it is given, so a test can
check what reached the machine after the sealed trip.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from services.provider.agent import Agent
from services.provider.engine import EngineConfig, GenerationRequest
from services.provider.engine.base import TokenEvent
from services.provider.engine.batching import BackendFactory
from services.provider.engine.fake import FakeBackend, fixed_script
from services.provider.engine.local import LocalEngine, ModelSpec
from services.provider.engine.mlx_engine import mlx_backend_factory
from services.provider.engine.stream import LocalStream
from tests.fixtures.atproto import Account, AtprotoStack
from tests.integration.provider_kit import provider_home, running_agent

TINY = "tiny-llama"
SCRIPTED = "scripted-tools"
STALL = "stalling"  # accepts jobs and never answers (timeouts)


def scripted(req: Any) -> list[str]:
    """The scripted model: a tool call when tools are offered, JSON when asked, else an echo."""
    if req.tools_active:
        call = '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>'
        return [call[i : i + 8] for i in range(0, len(call), 8)]
    if req.response_format is not None:
        return ['{"answer"', ": 42", "}"]
    return ["Echo", ": ", "hello"]


class StallingBackend(FakeBackend):
    """Takes sequences and never steps them: a hung model that only a cancel ends."""

    def step(self) -> list[TokenEvent]:
        time.sleep(0.01)  # the worker's loop, idling rather than spinning
        return []


class RecordingEngine(LocalEngine):
    """The provider's engine, keeping each request it is asked to generate."""

    def __init__(self, config: EngineConfig, factories: dict[str, BackendFactory]) -> None:
        super().__init__(config, factories)
        self.requests: list[GenerationRequest] = []

    def generate(self, req: GenerationRequest) -> LocalStream:
        self.requests.append(req)
        return super().generate(req)


def _factory(spec: ModelSpec) -> BackendFactory:
    slots = spec.slots
    if spec.id == SCRIPTED:
        return lambda: FakeBackend(SCRIPTED, scripted, slots=slots, tools=True, step_delay_s=0)
    if spec.id == STALL:
        silent = fixed_script()  # never stepped: no token ever comes
        return lambda: StallingBackend(STALL, silent, slots=slots, tools=False, step_delay_s=0)
    return mlx_backend_factory(spec)


async def load_engine(config: EngineConfig) -> RecordingEngine:
    engine = RecordingEngine(config, {spec.id: _factory(spec) for spec in config.models})
    await engine.start()
    return engine


async def start_machine(
    stack: AtprotoStack, account: Account, root: Path, tiny_model_dir: Path, *,
    matchmaker: str, exchange_did: str, slots: int,
) -> Agent:  # fmt: skip
    """The provider agent, logged in as `account`, connected to `matchmaker`."""
    models = root / "models"
    models.mkdir(parents=True)
    (models / TINY).symlink_to(tiny_model_dir, target_is_directory=True)
    for fake in (SCRIPTED, STALL):
        (models / fake).mkdir()
    config = provider_home(
        root / "home", stack, account, exchange_did=exchange_did, matchmaker=matchmaker,
        models_dir=models, models=[TINY, SCRIPTED, STALL], slots=slots, drain_timeout_s=5,
        status_interval_s=2.0, record_poll_s=30.0,
    )  # fmt: skip
    return await running_agent(config, engine_loader=load_engine)
