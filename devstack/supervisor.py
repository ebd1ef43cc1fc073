"""Run the stack's processes, restart any that crash (with backoff), and report it.

The supervisor is one detached process (`python -m devstack supervise`); `make down` sends it
SIGTERM and it stops its children by PID, in reverse start order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from .layout import Layout
from .procs import process_start
from .services import Spec

log = logging.getLogger("devstack")
BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
HEALTHY_RESET_S = 60.0  # a process up this long starts its backoff afresh


class StartError(Exception):
    """A process did not come up; the message names it and points at its log."""


@dataclass
class Child:
    spec: Spec
    process: subprocess.Popen[bytes]
    started: float
    restarts: int = 0
    last_exit: int | None = None


@dataclass
class Supervisor:
    lay: Layout
    children: dict[str, Child] = field(default_factory=dict)
    stopping: bool = False
    state: str = "starting"
    message: str = ""

    def spawn(self, spec: Spec, restarts: int = 0, last_exit: int | None = None) -> Child:
        logfile = self.lay.log(spec.name).open("ab")
        process = subprocess.Popen(  # noqa: S603 - our own programs with our own arguments
            spec.argv, env={**os.environ, **spec.env}, cwd=self.lay.root,
            stdout=logfile, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        logfile.close()
        child = Child(spec, process, time.monotonic(), restarts, last_exit)
        self.children[spec.name] = child
        self.write_status()
        return child

    async def start(self, spec: Spec, timeout_s: float = 120.0, attempts: int = 3) -> None:
        """Spawn and wait until it answers; a process that exits while starting is retried."""
        for attempt in range(1, attempts + 1):
            child = self.spawn(spec, restarts=attempt - 1)
            try:
                await self.wait_ready(child, timeout_s)
            except StartError as e:
                if child.process.poll() is None or attempt == attempts:
                    raise
                log.warning("%s; starting it again (attempt %d of %d)", e, attempt + 1, attempts)
                await asyncio.sleep(BACKOFF_S[attempt - 1])
                continue
            log.info("%s is up (pid %d)", spec.name, child.process.pid)
            return

    async def wait_ready(self, child: Child, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if child.process.poll() is not None:
                code, name = child.process.returncode, child.spec.name
                raise StartError(f"{name} exited with {code} while starting; "
                                 f"see {self.lay.log(name)}")  # fmt: skip
            if await ready(child.spec):
                return
            await asyncio.sleep(0.2)
        raise StartError(f"{child.spec.name} did not answer in {timeout_s:.0f} s; "
                         f"see {self.lay.log(child.spec.name)}")  # fmt: skip

    async def watch(self) -> None:
        """Restart what exits, with backoff; runs until `stop`."""
        while not self.stopping:
            for child in list(self.children.values()):
                code = child.process.poll()
                if code is None or self.stopping:
                    continue
                await self.restart(child, code)
            await asyncio.sleep(0.5)

    async def restart(self, child: Child, code: int) -> None:
        name = child.spec.name
        healthy = time.monotonic() - child.started >= HEALTHY_RESET_S
        attempt = 0 if healthy else child.restarts
        delay = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
        log.warning("%s (pid %d) exited with %s; restarting in %.0f s (restart #%d); log: %s",
                    name, child.process.pid, code, delay, child.restarts + 1,
                    self.lay.log(name))  # fmt: skip
        if name == "plc" and "DATABASE_URL" not in child.spec.env:
            log.error("the PLC kept its directory in memory: every DID is gone with it; "
                      "run `make down && make up` (DB=postgres keeps the PLC on disk)")  # fmt: skip
        child.last_exit = code
        self.children.pop(name)
        await asyncio.sleep(delay)
        if not self.stopping:
            self.spawn(child.spec, restarts=child.restarts + 1, last_exit=code)

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM every child (newest first), then SIGKILL what is left after the grace."""
        self.stopping = True
        children = list(self.children.values())[::-1]
        for child in children:
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for child in children:
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s ignored SIGTERM; killing pid %d", child.spec.name,
                            child.process.pid)  # fmt: skip
                child.process.kill()
                child.process.wait()
        self.children.clear()
        self.state = "stopped"
        self.write_status()

    def write_status(self) -> None:
        status: dict[str, Any] = {"state": self.state, "message": self.message,
                                  "supervisor": os.getpid(), "services": {}}  # fmt: skip
        for name, child in self.children.items():
            status["services"][name] = {"pid": child.process.pid, "restarts": child.restarts,
                                        "lastExit": child.last_exit,
                                        "started": process_start(child.process.pid)}  # fmt: skip
        tmp = self.lay.status_file.with_suffix(".tmp")
        with contextlib.suppress(FileNotFoundError):  # `make down` already removed var/stack
            tmp.write_text(json.dumps(status, indent=1))
            tmp.replace(self.lay.status_file)


async def ready(spec: Spec) -> bool:
    """Every health check the spec names answers (gRPC SERVING, HTTP 2xx)."""
    if spec.grpc_port is not None and not await grpc_serving(spec.grpc_port):
        return False
    return spec.http_url is None or await http_ok(spec.http_url)


async def grpc_serving(port: int) -> bool:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=1.0
            )
        except grpc.aio.AioRpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


async def http_ok(url: str) -> bool:
    async with httpx.AsyncClient(timeout=1.0) as http:
        with contextlib.suppress(httpx.HTTPError):
            return (await http.get(url)).is_success
    return False
