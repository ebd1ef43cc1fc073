"""bench/serving: the serving path's speed on this machine.

    make bench-serving                       (python -m bench.serving)
    python -m bench.serving --smollm2        also one real SmolLM2 answer (not for CI)

(a) The provider engine (in-process mlx-lm, continuous batching) against `mlx_lm.server` (its
    OpenAI API, started as a subprocess on 127.0.0.1 with an empty HF cache and HF_HUB_OFFLINE)
    on the same tiny model, greedy, the same prompts and max_tokens, at concurrency 1 and 8.
    Goals: engine/server ≥ 1.0× at concurrency 1; engine at 8 ≥ 2× its own rate at 1.
(b), (c): the matchmaker's pick latency and stream capacity (added by their owners) —
    each part is one `part_*` function registered in PARTS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

os.environ["HF_HUB_OFFLINE"] = "1"

from bench.serving_pool import part_b_pick_latency
from bench.serving_streams import part_c_provider_streams
from services.provider.engine import (
    EngineConfig,
    Finish,
    GenerationRequest,
    LocalEngine,
    ModelSpec,
    load_engine,
)
from services.provider.models import (
    SMOLLM2_ID,
    TINY_ID,
    build_tiny_model,
    convert_smollm2,
)

MAX_TOKENS = 128
REQUESTS_PER_LEVEL = 16
LEVELS = (1, 8)
PROMPTS = [f"ka lo mi {'ne su ' * (i % 5)}ta ri po {i}" for i in range(REQUESTS_PER_LEVEL)]


@dataclass(frozen=True)
class Run:
    """One request: seconds to first text, seconds to the end, completion tokens, the text."""

    ttft_s: float
    total_s: float
    tokens: int
    text: str


@dataclass(frozen=True)
class Level:
    name: str
    concurrency: int
    wall_s: float
    runs: list[Run]

    @property
    def tokens_per_s(self) -> float:
        return sum(r.tokens for r in self.runs) / self.wall_s

    def row(self) -> str:
        lat = sorted(r.total_s for r in self.runs)
        ttft = statistics.median(r.ttft_s for r in self.runs)
        p95 = lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))]
        return (
            f"| {self.name:<16} | {self.concurrency:>4} | {self.tokens_per_s:>9,.0f} | "
            f"{statistics.median(lat) * 1e3:>9.1f} | {p95 * 1e3:>9.1f} | {ttft * 1e3:>8.1f} |"
        )


async def measure(name: str, concurrency: int, one: Callable[[str], Awaitable[Run]]) -> Level:
    await one(PROMPTS[0])  # warm up (compilation, caches, connections)
    queue = list(PROMPTS)
    runs: list[Run] = []

    async def worker() -> None:
        while queue:
            runs.append(await one(queue.pop(0)))

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Level(name, concurrency, time.perf_counter() - start, runs)


def engine_runner(engine: LocalEngine, model: str) -> Callable[[str], Awaitable[Run]]:
    async def one(prompt: str) -> Run:
        req = GenerationRequest(
            model,
            messages=[{"role": "user", "content": prompt}],
            max_tokens=MAX_TOKENS,
            temperature=0,
        )
        parts: list[str]
        start, first, parts = time.perf_counter(), 0.0, []
        async for item in engine.generate(req):
            if isinstance(item, Finish):
                return Run(
                    first - start,
                    time.perf_counter() - start,
                    item.completion_tokens,
                    "".join(parts),
                )
            first = first or time.perf_counter()
            parts.append(item.text)
        raise RuntimeError("stream ended without a Finish")

    return one


def server_runner(client: httpx.AsyncClient) -> Callable[[str], Awaitable[Run]]:
    async def one(prompt: str) -> Run:
        body = {
            "model": "default_model",
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": MAX_TOKENS,
            "temperature": 0,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        start, first, parts, tokens = time.perf_counter(), 0.0, [], 0
        async with client.stream("POST", "/v1/chat/completions", json=body) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                chunk = json.loads(line[6:])
                tokens = (chunk.get("usage") or {}).get("completion_tokens", tokens)
                for choice in chunk.get("choices", []):
                    if text := (choice.get("delta") or {}).get("content"):
                        first = first or time.perf_counter()
                        parts.append(text)
        return Run(first - start, time.perf_counter() - start, tokens, "".join(parts))

    return one


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MlxServer:
    """`mlx_lm.server` on a free loopback port; stopped (by its pid) on exit."""

    def __init__(self, model_dir: Path, scratch: Path) -> None:
        self.port = free_port()
        cache = scratch / "hf-cache"
        cache.mkdir()
        env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
        cmd = [
            sys.executable,
            "-m",
            "mlx_lm.server",
            "--model",
            str(model_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "WARNING",
        ]
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.url = f"http://127.0.0.1:{self.port}"

    async def ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(base_url=self.url) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError("mlx_lm.server exited during startup")
                try:
                    if (await client.get("/health")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError("mlx_lm.server did not become ready")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


async def part_a_engine_vs_server() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as scratch_name:
        scratch = Path(scratch_name)
        model_dir = build_tiny_model(scratch / TINY_ID)
        server = MlxServer(model_dir, scratch)
        try:
            await server.ready()
            engine = await load_engine(EngineConfig((ModelSpec("tiny", model_dir, slots=8),)))
            levels: dict[tuple[str, int], Level] = {}
            async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:
                for c in LEVELS:
                    levels["engine", c] = await measure(
                        "provider engine", c, engine_runner(engine, "tiny")
                    )
                    levels["server", c] = await measure("mlx_lm.server", c, server_runner(client))
            await engine.stop()
        finally:
            server.stop()
    report_a(levels)


def report_a(levels: dict[tuple[str, int], Level]) -> None:
    print(
        f"\n(a) tiny model, greedy, {REQUESTS_PER_LEVEL} requests × {MAX_TOKENS} tokens per level"
    )
    print("| path             | conc | tokens/s  | p50 ms    | p95 ms    | ttft ms  |")
    print("|------------------|------|-----------|-----------|-----------|----------|")
    for c in LEVELS:
        print(levels["engine", c].row())
        print(levels["server", c].row())
    ratio_1 = levels["engine", 1].tokens_per_s / levels["server", 1].tokens_per_s
    scale_8 = levels["engine", 8].tokens_per_s / levels["engine", 1].tokens_per_s
    same = sum(
        a.text == b.text
        for a, b in zip(
            sorted(levels["engine", 1].runs, key=lambda r: r.text),
            sorted(levels["server", 1].runs, key=lambda r: r.text),
            strict=True,
        )
    )
    print(f"engine / server at concurrency 1: {ratio_1:.2f}×  (goal ≥ 1.0×)")
    print(f"engine at 8 / engine at 1:        {scale_8:.2f}×  (goal ≥ 2×)")
    ratio_8 = levels["engine", 8].tokens_per_s / levels["server", 8].tokens_per_s
    print(f"engine / server at concurrency 8: {ratio_8:.2f}×")
    print(f"greedy outputs identical to the server's: {same}/{len(PROMPTS)}")


async def part_smollm2() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-smollm2-") as scratch:
        started = time.perf_counter()
        out = convert_smollm2(Path(scratch) / SMOLLM2_ID)
        print(f"\nSmolLM2-135M-Instruct: converted in {time.perf_counter() - started:.1f} s")
        engine = await load_engine(EngineConfig((ModelSpec(SMOLLM2_ID, out, slots=1),)))
        ask = engine_runner(engine, SMOLLM2_ID)
        cold = await ask("What is the capital of France?")
        run = await ask("What is the capital of France?")
        await engine.stop()
        print(f"first (cold) request: {cold.total_s:.2f} s")
        rate = run.tokens / run.total_s
        print(f"answer: {run.text!r}  ({run.tokens} tokens, {rate:.1f} tok/s)")
        print(f"time to first token: {run.ttft_s:.2f} s (prompt processing, 4-bit on CPU)")


PARTS: dict[str, Callable[[], Coroutine[Any, Any, None]]] = {
    "a": part_a_engine_vs_server,
    "b": part_b_pick_latency,  # bench/serving_pool.py
    "c": part_c_provider_streams,  # bench/serving_streams.py
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parts", nargs="*", default=sorted(PARTS), help="which parts (default all)")
    parser.add_argument("--smollm2", action="store_true", help="also answer with SmolLM2")
    args = parser.parse_args()
    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    print(f"# bench/serving on {machine}, python {platform.python_version()}")
    print(f"# load average at start: {os.getloadavg()[0]:.2f}")
    for name in args.parts:
        asyncio.run(PARTS[name]())
    if args.smollm2:
        asyncio.run(part_smollm2())


if __name__ == "__main__":
    main()
