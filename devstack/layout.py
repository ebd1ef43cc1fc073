"""Where the local stack keeps its state, logs and ports (everything under `var/`).

`COCORE_STACK_VAR` (default `<repo>/var`), `COCORE_STACK_PORT_OFFSET` (default 0) and
`COCORE_STACK_MODEL` (default SmolLM2-135M-Instruct, a directory under `<var>/models`) let a
second stack — the test suite's — run beside the developer's on other ports.
"""

from __future__ import annotations

import os
import random
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

EXCHANGE_HANDLE = "coop-exchange.test"  # "exchange" is a handle the PDS reserves
SMOLLM2 = "SmolLM2-135M-Instruct"
TERMS_URI = "https://cocore.localhost/terms"
TERMS_VERSION = "2026-11"
SERVICES = ("exchange", "matchmaker", "appview", "gateway")
PORTS = {
    "plc": 2582, "pds": 2583, "pg": 2584, "edge": 2580, "envoy_admin": 2589,
    "appview_http": 2590, "exchange": 2591, "matchmaker": 2592, "appview": 2593,
    "gateway_http": 2596, "gateway": 2597,
    "exchange_metrics": 2601, "matchmaker_metrics": 2602, "appview_metrics": 2603,
    "gateway_metrics": 2604,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Layout:
    """Paths under `var`: `stack/` is this run's world (wiped by `down`), the rest is kept."""

    root: Path  # the repository
    var: Path
    port_offset: int = 0
    model_id: str = SMOLLM2

    @classmethod
    def from_env(cls, root: Path, environ: Mapping[str, str] = os.environ) -> Layout:
        var = environ.get("COCORE_STACK_VAR", "").strip()
        return cls(
            root, Path(var).absolute() if var else root / "var",
            int(environ.get("COCORE_STACK_PORT_OFFSET", "0") or 0),
            environ.get("COCORE_STACK_MODEL", "").strip() or SMOLLM2,
        )  # fmt: skip

    def port(self, name: str) -> int:
        return PORTS[name] + self.port_offset

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port(name)}"

    def address(self, name: str) -> str:
        return f"127.0.0.1:{self.port(name)}"

    @property
    def state(self) -> Path:
        return self.var / "stack"

    @property
    def logs(self) -> Path:
        return self.var / "log"

    @property
    def atp(self) -> Path:
        return self.var / "atp"

    @property
    def models(self) -> Path:
        return self.var / "models"

    @property
    def env_file(self) -> Path:
        return self.var / "stack.env"

    @property
    def supervisor_pid(self) -> Path:
        return self.state / "supervisor.pid"

    @property
    def status_file(self) -> Path:
        return self.state / "status.json"

    @property
    def accounts_file(self) -> Path:
        return self.state / "accounts.json"

    @property
    def provider_home(self) -> Path:
        return self.state / "provider"

    @property
    def pg(self) -> Path:
        return self.state / "pg"

    @property
    def atp_script(self) -> Path:
        return self.root / "tools" / "atproto-stack" / "stack.sh"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def environ(self) -> dict[str, str]:
        """What a child `devstack` process needs to see the same layout."""
        return {
            "COCORE_STACK_VAR": str(self.var),
            "COCORE_STACK_PORT_OFFSET": str(self.port_offset),
            "COCORE_STACK_MODEL": self.model_id,
        }


def free_port_offset() -> int:
    """A random port offset under which every stack port is free on 127.0.0.1 (random, so two
    stacks started at once on one machine — tests, benches — do not race for one block)."""
    offsets = list(range(31000, 60000, 137))
    random.shuffle(offsets)
    for offset in offsets:
        try:
            for port in PORTS.values():
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port + offset))
        except OSError:
            continue
        return offset
    raise RuntimeError("no free block of ports")
