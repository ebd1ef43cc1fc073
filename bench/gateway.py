"""bench/gateway: latency the whole paid path adds to the engine, and requests/s at 16.

    make bench-gateway        (python -m bench.gateway [--samples N] [--seconds S]
                               [--topology deployed|inprocess] [--profile]
                               [--pause-ms P] [--settled])

The default topology is the deployed one: `python -m devstack up` on the tiny model (a
temporary var dir, a free block of ports), one process per service — PLC, PDS, AppView,
exchange, matchmaker, gateway, Envoy (ext_authz), the provider agent — and `down` at the end.
The bench process holds only the HTTP clients and the engine it calls directly (the same
model directory). `--topology inprocess` runs every service in this one process instead
(tests/network.py: one event loop, one GIL for all of them and the engine).

Measured, interleaved in one run:

* non-streaming short chat completions (8 greedy tokens): the engine called directly in
  this process vs the same request through Envoy → gateway → exchange Admit → matchmaker
  Pick/Dispatch → provider link → engine, and back (with and without Envoy);
* streaming time-to-first-token, the same three ways;
* both through Envoy once more with a minimal HTTP/1.1 client (`_rawhttp.py`): the path's
  own cost, without the ~2–3 ms a client library such as httpx (the `openai` package's)
  spends per request here;
* requests/s at concurrency 16 through Envoy, and the engine alone at 16;
* deployed only, the floor (`_floor.py`): the same chain of processes and transports —
  Envoy with ext_authz, uvicorn, one bidi stream to a matchmaker, a provider's outbound link
  and engine thread — doing no work, its provider running the same engine: what the
  topology alone adds on this machine, before any of the services' own work.

`--profile` also prints where the time goes: every paid-path stage the services time (their
`cocore.*.stages` DEBUG lines: auth, admit, pick, outbox, dispatch, first chunk, …), p50/p99
over the latency samples (deployed: read from the gateway's and matchmaker's logs, which the
bench switches on with `COCORE_{GATEWAY,MATCHMAKER}_STAGE_LOG`).

p50 and p99 per row; "added" is path minus direct. Settlement runs in the background (off
the response path) and competes for the same cores: `--pause-ms` idles before each sample,
and `--settled` also waits until every earlier paid request has settled (the path measured
without the last job's settlement running beside it on this 2-core machine). The output
names the topology and the load average before and after. Goal on loopback: ≤ 5 ms p50
and ≤ 20 ms p99 added.
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
from contextlib import aclosing
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from services.gateway.events import REGISTRY
from services.provider.engine import (
    Delta,
    Engine,
    EngineConfig,
    Finish,
    ModelSpec,
    load_engine,
)
from services.provider.models import TINY_ID, build_tiny_model
from tests.fixtures.atproto import STACK_DIR, AtprotoStack, _free_ports, _stack
from tests.network import TINY, TestNetwork

from ._floor import Floor
from ._gateway_stack import DeployedStack
from ._rawhttp import RawHttp
from ._request import MAX_TOKENS, MESSAGES, generation_request

STAGE_LOGGERS = ("cocore.gateway.stages", "cocore.exchange.stages", "cocore.matchmaker.stages")
WARM_UP = 5  # requests per row before the samples


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


def cpu_table(cpu_ms: dict[str, float]) -> str:
    lines = [f"| {'process':<12} | {'CPU ms':>8} |", f"|{'-' * 14}|{'-' * 10}|"]
    for name, ms in sorted(cpu_ms.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {name:<12} | {ms:>8.2f} |")
    lines.append(f"| {'all':<12} | {sum(cpu_ms.values()):>8.2f} |")
    return "\n".join(lines)


def stage_table(stages: dict[str, list[float]]) -> str:
    head = f"| {'stage':<44} | {'count':>6} | {'p50 ms':>8} | {'p99 ms':>8} |"
    lines = [head, f"|{'-' * 46}|{'-' * 8}|{'-' * 10}|{'-' * 10}|"]
    for name, values in stages.items():
        lines.append(f"| {name:<44} | {len(values):>6} | {pct(values, 0.5) * 1e3:>8.2f} | "
                     f"{pct(values, 0.99) * 1e3:>8.2f} |")  # fmt: skip
    return "\n".join(lines)


class Bench:
    def __init__(
        self, engine: Engine, key: str, edge_url: str, gateway_url: str,
        settled: Callable[[], Awaitable[dict[str, int]]] | None = None,
        *, floor: Floor | None = None,
    ) -> None:  # fmt: skip
        self.engine, self.key = engine, key
        self.settled = settled  # the settlement outcomes so far, for --settled
        self.sent = 0  # paid requests made
        auth = {"authorization": f"Bearer {key}"}
        self.edge = httpx.AsyncClient(base_url=edge_url, headers=auth, timeout=60)
        self.raw = RawHttp(edge_url, auth)  # the path without a client library's own cost
        self.gateway = httpx.AsyncClient(base_url=gateway_url, headers=auth, timeout=60)
        self.refused: dict[int, int] = {}
        self.completed = 0  # requests the last `throughput` run completed
        self.floor_edge = RawHttp(floor.edge.url, auth) if floor else None
        self.floor_gateway = RawHttp(floor.gateway_url, auth) if floor else None

    async def aclose(self) -> None:
        for client in (self.floor_edge, self.floor_gateway):
            if client is not None:
                await client.aclose()
        await self.raw.aclose()
        await self.edge.aclose()
        await self.gateway.aclose()

    def body(self, stream: bool) -> dict[str, object]:
        return {"model": TINY, "messages": MESSAGES, "max_tokens": MAX_TOKENS,
                "temperature": 0, "stream": stream}  # fmt: skip

    async def direct(self, stream: bool) -> float:
        start = time.perf_counter()
        async with aclosing(self.engine.generate(generation_request())) as s:
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
        self.sent += 1
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

    async def minimal(self, stream: bool) -> float:
        self.sent += 1
        return await self.raw.post("/v1/chat/completions", self.body(stream), first_content=stream)

    async def quiesce(self, timeout_s: float = 10.0) -> None:
        """Wait until every paid request made so far has settled (its background work)."""
        assert self.settled is not None
        deadline = time.monotonic() + timeout_s
        while sum((await self.settled()).values()) < self.sent:
            if time.monotonic() > deadline:
                raise RuntimeError("settlements stopped landing")
            await asyncio.sleep(0.02)

    async def latencies(
        self, samples: int, pause_s: float, settled_first: bool = False
    ) -> dict[str, list[float]]:
        kinds: dict[str, Callable[[], Awaitable[float]]] = {
            "direct": lambda: self.direct(False), "edge": lambda: self.http(self.edge, False),
            "gateway": lambda: self.http(self.gateway, False),
            "minimal": lambda: self.minimal(False),
            "direct_ttft": lambda: self.direct(True),
            "edge_ttft": lambda: self.http(self.edge, True),
            "gateway_ttft": lambda: self.http(self.gateway, True),
            "minimal_ttft": lambda: self.minimal(True),
        }  # fmt: skip
        if self.floor_edge is not None and self.floor_gateway is not None:
            edge, gateway = self.floor_edge, self.floor_gateway  # the minimal client, as above
            kinds |= {
                "floor_ttft": lambda: edge.post("/v1/floor/engine", {}, first_content=True),
                "floor_gateway_ttft": lambda: gateway.post(
                    "/v1/floor/engine", {}, first_content=True),
                "floor_relay": lambda: edge.post("/v1/floor/relay", {}, first_content=True),
                "floor_edge": lambda: edge.post("/v1/floor/local", {}, first_content=True),
            }  # fmt: skip
        out: dict[str, list[float]] = {k: [] for k in kinds}
        for fn in kinds.values():  # warm every path
            for _ in range(WARM_UP):
                await fn()
        for _ in range(samples):  # interleaved: every path sees the same load
            for name, fn in kinds.items():
                if settled_first:
                    await self.quiesce()  # then the pause: the settlement's own writes
                await asyncio.sleep(pause_s)  # let the background settlement of the last drain
                out[name].append(await fn())
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
        self.completed = done
        return done / (time.perf_counter() - start)


@dataclass(frozen=True)
class Knobs:
    samples: int
    seconds: float
    pause_s: float
    profile: bool
    settled_first: bool = False


@dataclass
class Measured:
    lat: dict[str, list[float]]
    path_rps: float
    direct_rps: float
    refused: dict[int, int]
    stages: dict[str, list[float]]
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    paid: int = 0
    # CPU ms per paid request by process, settlement included (deployed only)
    cpu_ms: dict[str, float] = field(default_factory=dict)


async def run_deployed(knobs: Knobs) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    stack = DeployedStack.up(tmp, slots=16, stage_log=knobs.profile)
    try:
        model = stack.var / "models" / TINY_ID
        engine = await load_engine(EngineConfig((ModelSpec(TINY_ID, model, slots=16),)))
        floor: Floor | None = None
        try:
            floor = await Floor.start(tmp / "floor", model)
            key = await stack.unlimited_key()
            bench = Bench(engine, key, stack.edge_url, stack.gateway_url, stack.settlements,
                          floor=floor)  # fmt: skip
            gc.collect()  # as each service's __main__ does once it has started
            gc.freeze()
            sizes, cpu = stack.log_sizes(), stack.cpu_seconds()
            got = await measure(bench, knobs, lambda: stack.stages_since(sizes))
            settled = await stack.settled(got.paid)  # the run's background work is done
            used = stack.cpu_seconds()
            got.cpu_ms = {n: (used[n] - cpu[n]) * 1e3 / got.paid for n in cpu if n in used}
            report(got, knobs, stack.topology(), settled)
        finally:
            if floor is not None:
                await floor.close()
            await engine.stop()
    finally:
        stack.close()


async def run_inprocess(knobs: Knobs) -> None:
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
            edge = await net.start_edge(tmp)
            user = await net.user()
            async with httpx.AsyncClient(base_url=net.url) as http:  # no rate limits
                r = await http.post("/xrpc/dev.cocore.account.createApiKey", json={
                    "name": "bench", "requestsPerMinute": 0, "tokensPerMinute": 0},
                    headers={"authorization": f"Bearer {user.key}"})  # fmt: skip
                key = r.json()["secret"]
            bench = Bench(net.engine, key, edge.url, net.url, _async(settlements))
            gc.collect()  # as each service's __main__ does once it has started
            gc.freeze()
            stages = StageLog()
            if knobs.profile:
                stages.attach()

            def stop_profile() -> dict[str, list[float]]:
                stages.detach()
                return stages.stages

            try:
                got = await measure(bench, knobs, stop_profile)
            finally:
                stages.detach()
            topology = (
                "inprocess: PLC + PDS apart; exchange, matchmaker, provider agent + "
                "engine, gateway, Envoy's ext_authz and the clients in this one process"
            )
            report(got, knobs, topology, settlements())
        finally:
            await net.stop()
            await stack.aclose_clients()
    finally:
        _stack("down", env, timeout=60)


async def measure(
    bench: Bench, knobs: Knobs, profiled: Callable[[], dict[str, list[float]]]
) -> Measured:
    """The latency rows (`profiled()` then returns their stage timings), then requests/s."""
    load = os.getloadavg()
    try:
        lat = await bench.latencies(knobs.samples, knobs.pause_s, knobs.settled_first)
        stages = profiled()
        path_rps = await bench.throughput(knobs.seconds, lambda: bench.http(bench.edge, False))
        path_done = bench.completed
        direct_rps = await bench.throughput(knobs.seconds, lambda: bench.direct(False))
    finally:
        await bench.aclose()
    got = Measured(lat, path_rps, direct_rps, bench.refused, stages, load, os.getloadavg())
    got.paid = 6 * (knobs.samples + WARM_UP) + path_done  # every paid request of the run
    return got


def report(got: Measured, knobs: Knobs, topology: str, settled: dict[str, int]) -> None:
    lat = got.lat
    print(f"\nbench/gateway on {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores (shared), {knobs.samples} interleaved samples per row "
          f"({knobs.pause_s * 1000:.0f} ms pause before each"
          f"{', once every earlier request settled' if knobs.settled_first else ''}), "
          f"{MAX_TOKENS} greedy tokens of {TINY}")  # fmt: skip
    print(f"topology: {topology}")
    print("load average before: {:.2f} {:.2f} {:.2f}; after: {:.2f} {:.2f} {:.2f}\n".format(
        *got.load_before, *got.load_after))  # fmt: skip
    print(f"| {'path':<38} | {'p50 ms':>8} | {'p99 ms':>8} | {'+p50 ms':>9} | {'+p99 ms':>9} |")
    print(f"|{'-' * 40}|{'-' * 10}|{'-' * 10}|{'-' * 11}|{'-' * 11}|")
    print(row("engine direct, whole answer", lat["direct"]))
    print(row("gateway (no Envoy), whole answer", lat["gateway"], lat["direct"]))
    print(row("Envoy + gateway, whole answer", lat["edge"], lat["direct"]))
    print(row("  the same, minimal HTTP client", lat["minimal"], lat["direct"]))
    print(row("engine direct, first token", lat["direct_ttft"]))
    print(row("gateway (no Envoy), first token", lat["gateway_ttft"], lat["direct_ttft"]))
    print(row("Envoy + gateway, first token", lat["edge_ttft"], lat["direct_ttft"]))
    print(row("  the same, minimal HTTP client", lat["minimal_ttft"], lat["direct_ttft"]))
    if "floor_ttft" in lat:
        print(row("floor: Envoy + gateway, first token", lat["floor_ttft"], lat["direct_ttft"]))
        print(row("floor: gateway (no Envoy), first token", lat["floor_gateway_ttft"],
                  lat["direct_ttft"]))  # fmt: skip
        print(row("floor, no engine: Envoy + relay", lat["floor_relay"]))
        print(row("floor, no engine: Envoy alone", lat["floor_edge"]))
        print("\nfloor: the same processes and transports doing no work (bench/_floor.py), "
              "the minimal client; its provider runs the same engine, so the first token "
              "travels while tokens 2.. decode")  # fmt: skip
        own = pct(lat["minimal_ttft"], 0.5) - pct(lat["floor_ttft"], 0.5)
        print(f"the services' own work on the first token (path − floor through Envoy, "
              f"minimal client): {own * 1e3:+.2f} ms p50")  # fmt: skip
    print(f"\nconcurrency 16 for {knobs.seconds:.0f} s: Envoy + gateway {got.path_rps:,.1f} "
          f"requests/s; engine alone {got.direct_rps:,.1f} requests/s; "
          f"refused: {got.refused or 'none'}")  # fmt: skip
    if knobs.profile:
        print("\nwhere the time goes (the latency rows' paid-path samples, warm-up included):\n")
        print(stage_table(got.stages))
    if got.cpu_ms:
        print(f"\nCPU per paid request, by process ({got.paid} paid requests, user + system, "
              "from the first sample until every settlement landed):\n")  # fmt: skip
        print(cpu_table(got.cpu_ms))
    print(f"\nbackground settlements so far: {settled or 'none'}")
    summary = {k: {"p50_ms": pct(v, 0.5) * 1e3, "p99_ms": pct(v, 0.99) * 1e3}
               for k, v in lat.items()}  # fmt: skip
    summary["throughput"] = {"edge_rps": got.path_rps, "direct_rps": got.direct_rps}
    print("\n" + json.dumps(summary, indent=1))


def settlements() -> dict[str, int]:
    """The gateway's fast-path settlement outcomes (they run beside the samples)."""
    return {
        sample.labels["result"]: int(sample.value)
        for metric in REGISTRY.collect() if metric.name == "cocore_gateway_settlements"
        for sample in metric.samples if sample.name.endswith("_total")
    }  # fmt: skip


def _async(fn: Callable[[], dict[str, int]]) -> Callable[[], Awaitable[dict[str, int]]]:
    async def call() -> dict[str, int]:
        return fn()

    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--pause-ms", type=float, default=0.0, help="idle time after each sample (0: back to back)"
    )
    parser.add_argument("--profile", action="store_true", help="print the per-stage breakdown")
    parser.add_argument("--settled", action="store_true",
                        help="start each sample once every earlier paid request settled "
                             "(the path alone, not beside the last job's settlement)")  # fmt: skip
    parser.add_argument("--topology", choices=("deployed", "inprocess"), default="deployed",
                        help="a process per service (devstack up), or all in one")  # fmt: skip
    args = parser.parse_args()
    knobs = Knobs(args.samples, args.seconds, args.pause_ms / 1000, args.profile, args.settled)
    asyncio.run((run_deployed if args.topology == "deployed" else run_inprocess)(knobs))


if __name__ == "__main__":
    main()
