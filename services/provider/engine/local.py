"""The in-process engine: one batching worker per loaded model, faults for the ones that failed."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from services.provider.engine.base import Engine
from services.provider.engine.batching import BackendFactory, ModelWorker, WorkerOptions
from services.provider.engine.errors import EngineNotRunning, ModelNotServed, ToolsUnsupported
from services.provider.engine.formats import check_schema
from services.provider.engine.stream import LocalStream
from services.provider.engine.types import EngineFault, GenerationRequest, ModelInfo


@dataclass(frozen=True)
class ModelSpec:
    """One model to serve: `id` is what requests name, `path` an mlx-lm model directory.
    `thinking_prefill` marks models whose template opens `<think>` before the answer."""

    id: str
    path: Path
    slots: int = 4
    max_waiting: int = 16
    thinking_prefill: bool = False


@dataclass(frozen=True)
class EngineConfig:
    models: tuple[ModelSpec, ...]
    seed_source: Callable[[], int] = field(default=lambda: secrets.randbits(63))
    id_source: Callable[[], str] = field(default=lambda: "call_" + secrets.token_hex(12))


class LocalEngine:
    """Implements `Engine`. Build it with `load_engine` (mlx) or `fake_engine` (tests)."""

    def __init__(self, config: EngineConfig, factories: Mapping[str, BackendFactory]) -> None:
        self._config = config
        self._factories = dict(factories)
        self._workers: dict[str, ModelWorker] = {}
        self._faults: dict[str, EngineFault] = {}
        self._running = False

    async def start(self) -> None:
        """Loads every model concurrently; the ones that fail become faults."""
        specs = {s.id: s for s in self._config.models}
        workers = {
            mid: ModelWorker(mid, factory, self._options(specs[mid]))
            for mid, factory in self._factories.items()
        }
        faults = await asyncio.gather(*(w.start() for w in workers.values()))
        for (mid, worker), fault in zip(workers.items(), faults, strict=True):
            if fault is None:
                self._workers[mid] = worker
            else:
                self._faults[mid] = fault
        self._running = True

    async def stop(self) -> None:
        self._running = False
        await asyncio.gather(*(w.stop() for w in self._workers.values()))

    def models(self) -> list[ModelInfo]:
        return [w.info for w in self._workers.values() if w.info is not None and w.alive]

    def faults(self) -> dict[str, EngineFault]:
        return dict(self._faults)

    def free_slots(self, model: str | None = None) -> int:
        workers = [self._workers[model]] if model in self._workers else []
        if model is None:
            workers = list(self._workers.values())
        return sum(w.free_slots() for w in workers if w.alive)

    def generate(self, req: GenerationRequest) -> LocalStream:
        if not self._running:
            raise EngineNotRunning("the engine is not running")
        worker = self._workers.get(req.model)
        if worker is None or worker.info is None or not worker.alive:
            raise ModelNotServed("this model is not served here", details={"model": req.model})
        if req.tools_active and not worker.info.supports_tools:
            raise ToolsUnsupported("this model's chat template does not take tools")
        check_schema(req.response_format)
        return worker.submit(req)

    def _options(self, spec: ModelSpec) -> WorkerOptions:
        return WorkerOptions(
            slots=spec.slots,
            max_waiting=spec.max_waiting,
            seed_source=self._config.seed_source,
            id_source=self._config.id_source,
        )


if TYPE_CHECKING:  # LocalEngine must keep satisfying the published protocol
    _PROTOCOL_CHECK: type[Engine] = LocalEngine


async def load_engine(config: EngineConfig) -> LocalEngine:
    """Loads each configured mlx-lm model directory in its own worker; see `.faults()`."""
    from services.provider.engine.mlx_engine import mlx_backend_factory  # noqa: PLC0415 — mlx on use

    engine = LocalEngine(config, {s.id: mlx_backend_factory(s) for s in config.models})
    await engine.start()
    return engine
