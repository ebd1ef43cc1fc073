"""`up`, `down` and `status`: start the supervisor (after PLC, PDS and PostgreSQL), stop it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from . import pg
from .layout import SERVICES, Layout
from .procs import process_start

START_TIMEOUT_S = 900.0


def up(lay: Layout, db: str, pg_url: str | None) -> int:
    lay.var.mkdir(exist_ok=True)
    if supervisor_pid(lay) is not None:
        print("the stack is already running (make down stops it)")
        return wait_ready(lay)
    stop_leftovers(lay)
    shutil.rmtree(lay.state, ignore_errors=True)
    lay.state.mkdir(parents=True)
    shutil.rmtree(lay.logs, ignore_errors=True)
    lay.logs.mkdir()
    admin_url = None
    if db == "postgres":
        admin_url = pg_url or pg.start_local(lay.pg, lay.port("pg"))
        pg.create_databases(admin_url, ["plc", *(f"cocore_{n}" for n in SERVICES)])
        print(f"PostgreSQL: {admin_url.rsplit('/', 1)[0]} (databases cocore_*)")
    argv = [sys.executable, "-m", "devstack", "supervise"]
    if admin_url:
        argv += ["--pg-url", admin_url]
    with lay.log("supervisor").open("ab") as log:
        supervisor = subprocess.Popen(  # noqa: S603 - ourselves
            argv, cwd=lay.root, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, **lay.environ()},
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    lay.supervisor_pid.write_text(str(supervisor.pid))
    print("starting the PLC, the PDS, AppView, exchange, matchmaker, gateway, Envoy and a provider "
          f"({lay.model_id}); logs in {lay.logs}")  # fmt: skip
    return wait_ready(lay)


def wait_ready(lay: Layout) -> int:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        state = read_status(lay).get("state")
        if state == "ready" and lay.env_file.exists():
            print_usage(lay)
            return 0
        if state == "failed" or (state != "stopped" and supervisor_pid(lay) is None):
            message = read_status(lay).get("message") or f"see {lay.log('supervisor')}"
            print(f"make up failed: {message}", file=sys.stderr)
            down(lay)
            return 1
        time.sleep(0.5)
    print(f"make up timed out; see {lay.logs}", file=sys.stderr)
    return 1


def down(lay: Layout) -> int:
    pid = supervisor_pid(lay)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        for _ in range(300):
            if supervisor_pid(lay) is None:
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
    stop_leftovers(lay)
    lay.env_file.unlink(missing_ok=True)
    shutil.rmtree(lay.state, ignore_errors=True)
    print("stopped; logs kept in var/log")
    return 0


def stop_leftovers(lay: Layout) -> None:
    """Children of a supervisor that died, PLC + PDS, and the local PostgreSQL cluster."""
    for name, svc in read_status(lay).get("services", {}).items():
        if svc.get("started") and process_start(int(svc["pid"])) == svc["started"]:
            print(f"stopping a leftover {name} (pid {svc['pid']})")
            os.kill(int(svc["pid"]), signal.SIGKILL)
    env = {**os.environ, "ATP_STATE_DIR": str(lay.atp)}
    subprocess.run([str(lay.atp_script), "down"], env=env, check=False,  # noqa: S603
                   stdout=subprocess.DEVNULL)  # fmt: skip
    if lay.pg.exists():
        pg.stop_local(lay.pg)


def supervisor_pid(lay: Layout) -> int | None:
    try:
        pid = int(lay.supervisor_pid.read_text())
    except (OSError, ValueError):
        return None
    return pid if _cmdline(pid).find("devstack supervise") >= 0 else None


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def read_status(lay: Layout) -> dict[str, Any]:
    try:
        status: dict[str, Any] = json.loads(lay.status_file.read_text())
    except (OSError, ValueError):
        return {}
    return status


def status(lay: Layout) -> int:
    current = read_status(lay)
    if supervisor_pid(lay) is None:
        print("the stack is not running (make up starts it)")
        return 1
    print(f"stack: {current.get('state')} (supervisor pid {current.get('supervisor')})")
    for name, svc in current.get("services", {}).items():
        print(f"  {name:<11} pid {svc['pid']:<8} restarts {svc['restarts']:<3} "
              f"log {lay.log(name)}")  # fmt: skip
    return 0


def print_usage(lay: Layout) -> None:
    env = dict(line.split("=", 1) for line in lay.env_file.read_text().splitlines()
               if "=" in line and not line.startswith("#"))  # fmt: skip
    print(f"""
cocore is up on 127.0.0.1 — addresses and the requester's API key are in var/stack.env

  OpenAI endpoint   {env["OPENAI_BASE_URL"]}   (Envoy → gateway; model {env["COCORE_MODEL"]})
  AppView           {env["COCORE_APPVIEW_URL"]}/xrpc/…   gRPC {env["COCORE_APPVIEW_GRPC_ADDR"]}
  exchange          {env["COCORE_EXCHANGE_ADDR"]}   matchmaker {env["COCORE_MATCHMAKER_ADDR"]}
  logs              var/log/   (make status shows restarts)

Try it:
  set -a; . var/stack.env; set +a
  .venv/bin/python -c 'from openai import OpenAI; import os
  for c in OpenAI().chat.completions.create(model=os.environ["COCORE_MODEL"], stream=True,
          messages=[{{"role": "user", "content": "Hi!"}}]):
      print(c.choices[0].delta.content or "", end="")'
  make demo      # a streamed chat, then its receipt, verification, settlement and balances
  make down      # stop exactly what this started
""")
