"""Continuous batching for one model: a dedicated thread steps the backend while requests join
and leave between steps; callers talk to it through thread-safe commands and `LocalStream`s."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from cocore.errors import CocoreError
from services.provider.engine.base import BackendFinish, StepBackend
from services.provider.engine.pipeline import OutputPipeline
from services.provider.engine.stream import LocalStream, Sink
from services.provider.engine.types import (
    Delta,
    EngineFault,
    Finish,
    FinishReason,
    GenerationRequest,
    ModelInfo,
)

log = logging.getLogger(__name__)
BackendFactory = Callable[[], StepBackend]


@dataclass(eq=False)
class _Job:
    req: GenerationRequest
    sink: Sink
    uid: int | None = None
    pipeline: OutputPipeline | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    out: list[Delta | Finish] = field(default_factory=list)


@dataclass(frozen=True)
class WorkerOptions:
    slots: int = 4
    max_waiting: int = 16
    seed_source: Callable[[], int] = lambda: 0
    id_source: Callable[[], str] = lambda: "call_0"


class ModelWorker:
    """Owns one backend and the one thread allowed to touch it (mlx is used single-threaded)."""

    def __init__(self, model_id: str, factory: BackendFactory, options: WorkerOptions) -> None:
        self.model_id = model_id
        self._factory = factory
        self._opt = options
        self._commands: queue.SimpleQueue[tuple[str, _Job | None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._reserved = 0  # admitted + waiting jobs, counted from the caller side
        self._waiting: deque[_Job] = deque()
        self._active: dict[int, _Job] = {}
        self._thread: threading.Thread | None = None
        self.info: ModelInfo | None = None

    # -- lifecycle (caller's loop)
    async def start(self) -> EngineFault | None:
        """Loads the model inside the worker thread; a failure is a fault, not an exception."""
        loaded: Future[ModelInfo | EngineFault] = Future()
        self._thread = threading.Thread(
            target=self._run, args=(loaded,), name=f"engine-{self.model_id}", daemon=True
        )
        self._thread.start()
        result = await asyncio.wrap_future(loaded)
        if isinstance(result, EngineFault):
            return result
        self.info = result
        return None

    async def stop(self) -> None:
        self._commands.put(("stop", None))
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)

    def free_slots(self) -> int:
        with self._lock:
            return max(0, self._opt.slots - self._reserved)

    def submit(self, req: GenerationRequest) -> LocalStream:
        job = _Job(req, Sink(asyncio.get_running_loop()))
        stream = LocalStream(job.sink, lambda: self._commands.put(("cancel", job)))
        with self._lock:
            full = self._reserved >= self._opt.slots + self._opt.max_waiting
            if not full:
                self._reserved += 1
        if full:
            job.sink.deliver([_error(job, "engine_busy", "all slots and the queue are full")])
        else:
            self._commands.put(("submit", job))
        return stream

    # -- the worker thread
    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self.info is not None

    def _run(self, loaded: Future[ModelInfo | EngineFault]) -> None:
        try:
            backend = self._factory()
        except CocoreError as exc:
            loaded.set_result(EngineFault(self.model_id, exc.code, exc.message))
            return
        except Exception as exc:  # noqa: BLE001 — a model that cannot load is a fault, never a crash
            message = f"the model failed to load ({type(exc).__name__})"
            loaded.set_result(EngineFault(self.model_id, "model-load-failed", message))
            return
        loaded.set_result(backend.info)
        try:
            self._loop(backend)
        except Exception as exc:  # noqa: BLE001 — a scheduler bug must not strand waiting callers
            self._fail_all(exc, "engine worker died")
        finally:
            backend.close()

    def _loop(self, backend: StepBackend) -> None:
        while True:
            block = not self._active and not self._waiting
            if not self._drain(backend, block=block):
                return
            self._admit(backend)
            if self._active:
                self._step(backend)
            self._flush()

    def _drain(self, backend: StepBackend, *, block: bool) -> bool:
        """Applies queued commands; False once asked to stop."""
        while True:
            try:
                kind, job = self._commands.get(block=block)
            except queue.Empty:
                return True
            block = False
            if kind == "stop":
                for j in [*self._waiting, *self._active.values()]:
                    self._end(j, _error(j, "engine_stopped", "the engine is shutting down"))
                self._waiting.clear()
                self._flush()
                return False
            assert job is not None
            if kind == "submit":
                self._waiting.append(job)
            elif kind == "cancel":
                self._cancel(backend, job)

    def _cancel(self, backend: StepBackend, job: _Job) -> None:
        if job in self._waiting:
            self._waiting.remove(job)
        elif job.uid is not None and self._active.get(job.uid) is job:
            backend.remove(job.uid)
            del self._active[job.uid]
        else:
            return  # already finished
        self._end(job, Finish("cancelled", job.prompt_tokens, job.completion_tokens))

    def _admit(self, backend: StepBackend) -> None:
        while self._waiting and len(self._active) < self._opt.slots:
            job = self._waiting.popleft()
            try:
                prepared = backend.prepare(job.req)
                seed = job.req.seed if job.req.seed is not None else self._opt.seed_source()
                job.uid = backend.insert(prepared, job.req, seed)
            except CocoreError as exc:
                self._end(job, _error(job, exc.code, exc.message))
                continue
            except Exception as exc:  # noqa: BLE001 — e.g. a chat template raising on odd input
                why = f"prompt rendering failed ({type(exc).__name__})"
                self._end(job, _error(job, "prompt_failed", why))
                continue
            job.prompt_tokens = len(prepared.prompt_tokens)
            job.pipeline = OutputPipeline(
                job.req, start_in_reasoning=prepared.start_in_reasoning, new_id=self._opt.id_source
            )
            self._active[job.uid] = job

    def _step(self, backend: StepBackend) -> None:
        try:
            events = backend.step()
        except Exception as exc:  # noqa: BLE001 — any backend failure must end jobs, not the thread
            self._fail_all(exc, "engine step failed", waiting=False)
            backend.reset()
            return
        for ev in events:
            found = self._active.get(ev.uid)
            if found is None:
                continue
            job = found
            assert job.pipeline is not None
            job.completion_tokens += 1
            job.out += job.pipeline.feed(ev.text)
            finish: BackendFinish | None = "stop" if job.pipeline.stopped else ev.finish
            if finish is None:
                continue
            if ev.finish is None:
                backend.remove(ev.uid)  # ended by a stop string the backend does not know about
            del self._active[ev.uid]
            tail, done = job.pipeline.finish(
                finish, prompt_tokens=job.prompt_tokens, completion_tokens=job.completion_tokens
            )
            job.out += tail
            self._end(job, done)

    def _fail_all(self, exc: Exception, what: str, *, waiting: bool = True) -> None:
        log.error(what, extra={"model": self.model_id, "error": type(exc).__name__})
        jobs = [*self._active.values(), *(self._waiting if waiting else ())]
        for job in jobs:
            self._end(job, _error(job, "engine_error", f"{what} ({type(exc).__name__})"))
        self._active.clear()
        if waiting:
            self._waiting.clear()

    def _end(self, job: _Job, finish: Finish) -> None:
        with self._lock:  # free the slot first: whoever sees the Finish may reuse it at once
            self._reserved -= 1
        job.out.append(finish)
        job.sink.deliver(job.out)
        job.out = []

    def _flush(self) -> None:
        for job in self._active.values():
            if job.out:
                job.sink.deliver(job.out)
                job.out = []


def _error(job: _Job, code: str, message: str) -> Finish:
    reason: FinishReason = "error"
    return Finish(reason, job.prompt_tokens, job.completion_tokens, error_code=code, error=message)
