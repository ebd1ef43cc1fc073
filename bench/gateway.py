"""bench/gateway: latency the whole paid path adds to the engine, and requests/s at 16.

    make bench-gateway        (python -m bench.gateway [--samples N] [--seconds S])

Starts the real stack on loopback (PLC + PDS, exchange, matchmaker, one provider machine
on the tiny model, the gateway, Envoy with ext_authz) and measures, interleaved in one run:

* non-streaming short chat completions (8 greedy tokens): the engine called directly in
  this process vs the same request through Envoy → gateway → exchange Admit → matchmaker
  Pick/Dispatch → provider link → engine, and back (with and without Envoy);
* streaming time-to-first-token, the same three ways;
* requests/s at concurrency 16 through Envoy, and the engine alone at 16.

`--profile` also prints where the time goes: every paid-path stage the services time (their
`cocore.*.stages` DEBUG lines: auth, admit, pick, outbox, dispatch, first chunk, …), p50/p99
over the latency samples.

p50 and p99 per row; "added" is path minus direct. Settlement runs in the background (off
the response path) and competes for the same cores. Every service runs in this one process
(one event loop, one GIL); like each service's `__main__`, the bench freezes what start-up
allocated before it measures, so a full garbage collection does not rescan it. Goal on
loopback: ≤ 5 ms p50 and ≤ 20 ms p99 added.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from services.gateway.events import REGISTRY
from services.provider.engine import Delta, Finish, GenerationRequest
from services.provider.models import TINY_ID, build_tiny_model
from tests.fixtures.atproto import STACK_DIR, AtprotoStack, _free_ports, _stack
from tests.network import TINY, TestNetwork

MESSAGES = [{"role": "user", "content": "ka lo mi ne su"}]
STAGE_LOGGERS = ("cocore.gateway.stages", "cocore.exchange.stages", "cocore.matchmaker.stages")
MAX_TOKENS = 8


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def row(name: str, values: list[float], base: list[float] | None = None) -> str:
    p50, p99 = pct(values, 0.5) * 1e3, pct(values, 0.99) * 1e3
    added = ""
    if base is not None:
        added = f"{p50 - pct(base, 0.5) * 1e3:>+9.2f} | {p99 - pct(base, 0.99) * 1e3:>+9.2f}"
    return f"| {name:<38} | {p50:>8.2f} | {p99:>8.2f} | {added or ' ' * 9 + ' | ' + ' ' * 9} |"


class StageLog(logging.Handler):
    """Collects the services' per-stage timings (the `stage`/`seconds` of each DEBUG line)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.stages: dict[str, list[float]] = {}
        self.loggers = [logging.getLogger(name) for name in STAGE_LOGGERS]

    def emit(self, record: logging.LogRecord) -> None:
        name, seconds = getattr(record, "stage", None), getattr(record, "seconds", None)
        if isinstance(name, str) and isinstance(seconds, float):
            self.stages.setdefault(name, []).append(seconds)

    def attach(self) -> None:
        for logger in self.loggers:
            logger.addHandler(self)
            logger.setLevel(logging.DEBUG)
            logger.propagate = False

    def detach(self) -> None:
        for logger in self.loggers:
            logger.removeHandler(self)
            logger.setLevel(logging.NOTSET)
            logger.propagate = True

    def table(self) -> str:
        head = f"| {'stage':<38} | {'count':>6} | {'p50 ms':>8} | {'p99 ms':>8} |"
        lines = [head, f"|{'-' * 40}|{'-' * 8}|{'-' * 10}|{'-' * 10}|"]
        for name, values in self.stages.items():
            lines.append(f"| {name:<38} | {len(values):>6} | {pct(values, 0.5) * 1e3:>8.2f} | "
                         f"{pct(values, 0.99) * 1e3:>8.2f} |")  # fmt: skip
        return "\n".join(lines)


class Bench:
    def __init__(self, net: TestNetwork, key: str, edge_url: str) -> None:
        self.net, self.key = net, key
        self.engine = net.engines[0]
        auth = {"authorization": f"Bearer {key}"}
        self.edge = httpx.AsyncClient(base_url=edge_url, headers=auth, timeout=60)
        self.gateway = httpx.AsyncClient(base_url=net.url, headers=auth, timeout=60)
        self.refused: dict[int, int] = {}

    async def aclose(self) -> None:
        await self.edge.aclose()
        await self.gateway.aclose()

    def body(self, stream: bool) -> dict[str, object]:
        return {"model": TINY, "messages": MESSAGES, "max_tokens": MAX_TOKENS,
                "temperature": 0, "stream": stream}  # fmt: skip

    async def direct(self, stream: bool) -> float:
        req = GenerationRequest(TINY, messages=MESSAGES, max_tokens=MAX_TOKENS, temperature=0)
        start = time.perf_counter()
        async with self.engine.generate(req) as s:  # type: ignore[attr-defined]
            async for item in s:
                if stream and isinstance(item, Delta):
                    first = time.perf_counter() - start
                    async for _ in s:
                        pass
                    return first
                if isinstance(item, Finish):
                    break
        return time.perf_counter() - start

    async def http(self, client: httpx.AsyncClient, stream: bool) -> float:
        start = time.perf_counter()
        if not stream:
            r = await client.post("/v1/chat/completions", json=self.body(False))
            r.raise_for_status()
            return time.perf_counter() - start
        first = None
        async with client.stream("POST", "/v1/chat/completions", json=self.body(True)) as r:
            r.raise_for_status()
            async for line in r.aiter_lines():
                if first is None and line.startswith("data: {") and '"content"' in line:
                    first = time.perf_counter() - start
        assert first is not None, "no content chunk"
        return first

    async def latencies(self, samples: int, pause_s: float) -> dict[str, list[float]]:
        kinds: dict[str, Callable[[], Awaitable[float]]] = {
            "direct": lambda: self.direct(False), "edge": lambda: self.http(self.edge, False),
            "gateway": lambda: self.http(self.gateway, False),
            "direct_ttft": lambda: self.direct(True),
            "edge_ttft": lambda: self.http(self.edge, True),
            "gateway_ttft": lambda: self.http(self.gateway, True),
        }  # fmt: skip
        out: dict[str, list[float]] = {k: [] for k in kinds}
        for fn in kinds.values():  # warm every path
            for _ in range(5):
                await fn()
        for _ in range(samples):  # interleaved: every path sees the same load
            for name, fn in kinds.items():
                out[name].append(await fn())
                await asyncio.sleep(pause_s)  # let the background settlement of the last drain
        return out

    async def throughput(self, seconds: float, fn: Callable[[], Awaitable[float]]) -> float:
        done = 0
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                try:
                    await fn()
                except httpx.HTTPStatusError as e:  # a busy pool answers 503: count, go on
                    self.refused[e.response.status_code] = (
                        self.refused.get(e.response.status_code, 0) + 1
                    )
                    continue
                done += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(16)))
        return done / (time.perf_counter() - start)


async def run(samples: int, seconds: float, pause_s: float, profile: bool) -> None:
    subprocess.run([str(STACK_DIR / "install.sh")], check=True, timeout=900)
    tmp = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    plc_port, pds_port = _free_ports(2)
    env = {k: v for k, v in os.environ.items() if k not in ("PLC_URL", "KEEP_DATA")}
    env.update(PLC_PORT=str(plc_port), PDS_PORT=str(pds_port), ATP_STATE_DIR=str(tmp / "atp"))
    up = _stack("up", env, timeout=180)
    if up.returncode != 0:
        raise SystemExit(f"stack.sh up failed:\n{up.stdout}\n{up.stderr}")
    stack = AtprotoStack(f"http://127.0.0.1:{plc_port}", f"http://127.0.0.1:{pds_port}",
                         tmp / "atp")  # fmt: skip
    try:
        model = build_tiny_model(tmp / "models" / TINY_ID)
        net = await TestNetwork.start(stack, tmp, model, slots=16, settle_wait_ms=0)
        try:
            await measure(net, tmp, samples, seconds, pause_s, profile)
        finally:
            await net.stop()
            await stack.aclose_clients()
    finally:
        _stack("down", env, timeout=60)


async def measure(  # noqa: PLR0917 - the bench's knobs
    net: TestNetwork, tmp: Path, samples: int, seconds: float, pause_s: float, profile: bool
) -> None:
    edge = await net.start_edge(tmp)
    user = await net.user()
    async with httpx.AsyncClient(base_url=net.url) as http:  # no rate limits for the bench
        r = await http.post("/xrpc/dev.cocore.account.createApiKey", json={
            "name": "bench", "requestsPerMinute": 0, "tokensPerMinute": 0},
            headers={"authorization": f"Bearer {user.key}"})  # fmt: skip
        key = r.json()["secret"]
    bench = Bench(net, key, edge.url)
    stages = StageLog()
    gc.collect()  # as each service's __main__ does once it has started
    gc.freeze()
    try:
        if profile:
            stages.attach()
        try:
            lat = await bench.latencies(samples, pause_s)
        finally:
            stages.detach()
        path_rps = await bench.throughput(seconds, lambda: bench.http(bench.edge, False))
        direct_rps = await bench.throughput(seconds, lambda: bench.direct(False))
    finally:
        await bench.aclose()
    print(f"\nbench/gateway on {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores (shared), {samples} interleaved samples per row "
          f"({pause_s * 1000:.0f} ms pause after each), "
          f"{MAX_TOKENS} greedy tokens of {TINY}\n")  # fmt: skip
    print(f"| {'path':<38} | {'p50 ms':>8} | {'p99 ms':>8} | {'+p50 ms':>9} | {'+p99 ms':>9} |")
    print(f"|{'-' * 40}|{'-' * 10}|{'-' * 10}|{'-' * 11}|{'-' * 11}|")
    print(row("engine direct, whole answer", lat["direct"]))
    print(row("gateway (no Envoy), whole answer", lat["gateway"], lat["direct"]))
    print(row("Envoy + gateway, whole answer", lat["edge"], lat["direct"]))
    print(row("engine direct, first token", lat["direct_ttft"]))
    print(row("gateway (no Envoy), first token", lat["gateway_ttft"], lat["direct_ttft"]))
    print(row("Envoy + gateway, first token", lat["edge_ttft"], lat["direct_ttft"]))
    print(f"\nconcurrency 16 for {seconds:.0f} s: Envoy + gateway {path_rps:,.1f} requests/s; "
          f"engine alone {direct_rps:,.1f} requests/s; "
          f"refused: {bench.refused or 'none'}")  # fmt: skip
    if profile:
        print("\nwhere the time goes (every sample of the paid path, warm-up included):\n")
        print(stages.table())
        print(f"\nbackground settlements so far: {settlements() or 'none'}")
    summary = {k: {"p50_ms": pct(v, 0.5) * 1e3, "p99_ms": pct(v, 0.99) * 1e3}
               for k, v in lat.items()}  # fmt: skip
    summary["throughput"] = {"edge_rps": path_rps, "direct_rps": direct_rps}
    print("\n" + json.dumps(summary, indent=1))


def settlements() -> dict[str, int]:
    """The gateway's fast-path settlement outcomes (they run beside the samples)."""
    return {
        sample.labels["result"]: int(sample.value)
        for metric in REGISTRY.collect() if metric.name == "cocore_gateway_settlements"
        for sample in metric.samples if sample.name.endswith("_total")
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--pause-ms", type=float, default=0.0, help="idle time after each sample (0: back to back)"
    )
    parser.add_argument("--profile", action="store_true", help="print the per-stage breakdown")
    args = parser.parse_args()
    asyncio.run(run(args.samples, args.seconds, args.pause_ms / 1000, args.profile))


if __name__ == "__main__":
    main()
