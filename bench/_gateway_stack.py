"""bench/gateway's deployed topology: `python -m devstack up` on the tiny model, one process
per service (PLC, PDS, AppView, exchange, matchmaker, gateway, Envoy, provider agent), on a
free block of ports in a temporary var dir; the services' stage lines read from their logs."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from devstack.layout import Layout, free_port_offset
from services.provider.models import TINY_ID, build_tiny_model
from tests.fixtures.atproto import STACK_DIR

REPO = Path(__file__).resolve().parent.parent
# `<time> cocore.gateway.stages stage admit ms=0.412` / `… cocore.matchmaker.stages pick ms=…`
_STAGE = re.compile(r" (cocore\.\w+)\.stages (?:stage )?(.+) ms=([0-9.]+)$")
STAGE_LOGS = ("gateway", "matchmaker")


@dataclass
class DeployedStack:
    """A running `devstack` (down in `close`, always); `values` is its `stack.env`."""

    var: Path
    env: dict[str, str]
    lay: Layout
    values: dict[str, str] = field(default_factory=dict)

    @classmethod
    def up(cls, tmp: Path, *, slots: int, stage_log: bool) -> DeployedStack:
        subprocess.run([str(STACK_DIR / "install.sh")], check=True, timeout=900)
        var = tmp / "var"
        build_tiny_model(var / "models" / TINY_ID)
        offset = free_port_offset()
        env = {**os.environ, "COCORE_STACK_VAR": str(var),
               "COCORE_STACK_PORT_OFFSET": str(offset), "COCORE_STACK_MODEL": TINY_ID,
               "COCORE_PROVIDER_SLOTS": str(slots)}  # fmt: skip
        if stage_log:
            env |= {"COCORE_GATEWAY_STAGE_LOG": "1", "COCORE_MATCHMAKER_STAGE_LOG": "1"}
        stack = cls(var, env, Layout(REPO, var, offset, TINY_ID))
        try:
            done = stack.devstack("up", timeout=900)
            if done.returncode != 0:
                raise SystemExit(f"devstack up failed:\n{done.stdout}\n{done.stderr}")
            lines = (var / "stack.env").read_text().splitlines()
            stack.values = dict(x.split("=", 1) for x in lines if "=" in x and x[0] != "#")
        except BaseException:
            stack.close()
            raise
        return stack

    def devstack(self, command: str, timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "devstack", command], cwd=REPO,
                              env=self.env, capture_output=True, text=True, timeout=timeout,
                              check=False)  # fmt: skip

    def close(self) -> None:
        """`down`; and should `up` have lost track of a supervisor that still runs (seen
        once under heavy load), stop that supervisor by its PID: it stops its children."""
        supervisor = self._supervisor()
        self.devstack("down", timeout=180)
        if supervisor is not None and _is_supervisor(supervisor):
            os.kill(supervisor, signal.SIGTERM)
            deadline = time.monotonic() + 30
            while _is_supervisor(supervisor) and time.monotonic() < deadline:
                time.sleep(0.2)

    def _supervisor(self) -> int | None:
        """The supervisor `up` started for this var dir (its environment names the dir)."""
        mark = f"COCORE_STACK_VAR={self.var}".encode()
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit() and _is_supervisor(int(proc.name)):
                try:
                    if mark in (proc / "environ").read_bytes().split(b"\0"):
                        return int(proc.name)
                except OSError:
                    continue
        return None

    @property
    def edge_url(self) -> str:
        return self.values["OPENAI_BASE_URL"].removesuffix("/v1")

    @property
    def gateway_url(self) -> str:
        return self.values["COCORE_GATEWAY_URL"]

    async def unlimited_key(self) -> str:
        """A key without per-key rate limits (`make up`'s key has the defaults)."""
        headers = {"authorization": f"Bearer {self.values['OPENAI_API_KEY']}"}
        async with httpx.AsyncClient(base_url=self.gateway_url, timeout=30) as http:
            r = await http.post("/xrpc/dev.cocore.account.createApiKey", json={
                "name": "bench", "requestsPerMinute": 0, "tokensPerMinute": 0},
                headers=headers)  # fmt: skip
            r.raise_for_status()
            return str(r.json()["secret"])

    def topology(self) -> str:
        status = json.loads(self.lay.status_file.read_text())
        procs = ", ".join(f"{n} (pid {s['pid']})" for n, s in status["services"].items())
        return (f"deployed: one process per service — {procs}; Envoy --concurrency 1; "
                f"gateway on {self.env.get('COCORE_GATEWAY_EVENT_LOOP', 'uvloop')} + "
                f"{self.env.get('COCORE_GATEWAY_HTTP_PARSER', 'httptools')}; "
                f"provider slots {self.env['COCORE_PROVIDER_SLOTS']}; this process: the "
                f"HTTP clients and the direct engine; logs in {self.lay.logs}")  # fmt: skip

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) each stack process has used so far, by service."""
        status = json.loads(self.lay.status_file.read_text())
        tick = os.sysconf("SC_CLK_TCK")
        out = {}
        for name, svc in status["services"].items():
            try:
                fields = Path(f"/proc/{svc['pid']}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out[name] = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        return out

    def log_sizes(self) -> dict[str, int]:
        return {name: self.lay.log(name).stat().st_size for name in STAGE_LOGS}

    def stages_since(self, sizes: dict[str, int]) -> dict[str, list[float]]:
        """Every stage line the services logged after `sizes` (from `log_sizes`)."""
        stages: dict[str, list[float]] = {}
        for name, start in sizes.items():
            with self.lay.log(name).open("rb") as f:
                f.seek(start)
                text = f.read().decode(errors="replace")
            for line in text.splitlines():
                if m := _STAGE.search(line):
                    label = m[2] if m[2].startswith(name) else f"{name}: {m[2]}"
                    stages.setdefault(label, []).append(float(m[3]) / 1e3)
        return stages

    async def settled(self, jobs: int, timeout_s: float = 120.0) -> dict[str, int]:
        """The settlement outcomes once `jobs` settled or the count stopped moving for 5 s."""
        deadline, last, still = time.monotonic() + timeout_s, -1, 0
        while True:
            outcomes = await self.settlements()
            done = sum(outcomes.values())
            still = still + 1 if done == last else 0
            if done >= jobs or still >= 5 or time.monotonic() > deadline:
                return outcomes
            last = done
            await asyncio.sleep(1.0)

    async def settlements(self) -> dict[str, int]:
        """The gateway's fast-path settlement outcomes, scraped from its metrics port."""
        async with httpx.AsyncClient(timeout=10) as http:
            text = (await http.get(self.lay.url("gateway_metrics") + "/metrics")).text
        found = re.findall(r'^cocore_gateway_settlements_total\{result="(\w+)"\} ([0-9.e+]+)$',
                           text, re.MULTILINE)  # fmt: skip
        return {result: int(float(value)) for result, value in found}


def _is_supervisor(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"devstack\0supervise" in cmdline
