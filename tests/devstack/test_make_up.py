"""`make up` end to end (on the tiny model and shifted ports, beside any developer stack):
up answers OpenAI requests, a second up is a no-op, a crashed service is restarted and
reported, `demo` tells the whole story, and `down` stops exactly what up started."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openai import OpenAI

from devstack.layout import free_port_offset
from tests.conftest import REPO

pytestmark = [pytest.mark.pds, pytest.mark.slow]
REQUIRED = (
    "OPENAI_BASE_URL", "OPENAI_API_KEY", "COCORE_MODEL", "COCORE_APPVIEW_URL",
    "COCORE_APPVIEW_GRPC_ADDR", "COCORE_EXCHANGE_ADDR", "COCORE_MATCHMAKER_ADDR",
)  # fmt: skip


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


class Stack:
    def __init__(self, var: Path, env: dict[str, str]) -> None:
        self.var, self.env = var, env
        self.receipts: list[str] = []

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "devstack", *args]
        return subprocess.run(argv, cwd=REPO, env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=False)  # fmt: skip

    @property
    def status(self) -> dict[str, object]:
        return json.loads((self.var / "stack" / "status.json").read_text())  # type: ignore[no-any-return]

    def stack_env(self) -> dict[str, str]:
        lines = (self.var / "stack.env").read_text().splitlines()
        return dict(x.split("=", 1) for x in lines if "=" in x and not x.startswith("#"))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Iterator[Stack]:
    var = tmp_path_factory.mktemp("devstack") / "var"
    (var / "models").mkdir(parents=True)
    (var / "models" / tiny_model_dir.name).symlink_to(tiny_model_dir)
    env = {**os.environ, "COCORE_STACK_VAR": str(var),
           "COCORE_STACK_PORT_OFFSET": str(free_port_offset()),
           "COCORE_STACK_MODEL": tiny_model_dir.name}  # fmt: skip
    s = Stack(var, env)
    up = s.run("up")
    try:
        assert up.returncode == 0, up.stdout + up.stderr + _logs(var)
        yield s
    finally:
        s.run("down", timeout=120)


def _logs(var: Path) -> str:
    return "".join(f"\n--- {p.name}\n{p.read_text()[-2000:]}" for p in (var / "log").glob("*.log")
                   if p.is_file())  # fmt: skip


def test_up_writes_stack_env_and_answers_openai(stack: Stack) -> None:
    env = stack.stack_env()
    assert set(REQUIRED) <= env.keys()
    assert env["OPENAI_API_KEY"].startswith("cocore-")
    assert (stack.var / "stack.env").stat().st_mode & 0o077 == 0  # holds the API key
    client = OpenAI(base_url=env["OPENAI_BASE_URL"], api_key=env["OPENAI_API_KEY"], max_retries=0)
    chunks = list(client.chat.completions.create(
        model=env["COCORE_MODEL"], messages=[{"role": "user", "content": "hi"}], max_tokens=6,
        stream=True, stream_options={"include_usage": True}))  # fmt: skip
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    finals = [(c.model_extra or {}).get("x_cocore") for c in chunks]
    receipt = [f for f in finals if f][-1]["receipt_uri"]
    assert receipt.startswith("at://")
    stack.receipts.append(receipt)
    client.close()


def test_second_up_is_a_no_op(stack: Stack) -> None:
    supervisor = stack.status["supervisor"]
    again = stack.run("up", timeout=60)
    assert again.returncode == 0, again.stderr
    assert "already running" in again.stdout
    assert stack.status["supervisor"] == supervisor


def test_a_crashed_service_is_restarted_and_reported(stack: Stack) -> None:
    services: dict[str, dict[str, int]] = stack.status["services"]  # type: ignore[assignment]
    old = services["exchange"]["pid"]
    os.kill(old, 9)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now: dict[str, dict[str, int]] = stack.status["services"]  # type: ignore[assignment]
        if "exchange" in now and now["exchange"]["pid"] != old:
            break
        time.sleep(0.2)
    assert now["exchange"]["restarts"] == 1 and now["exchange"]["lastExit"] == -9
    assert _alive(now["exchange"]["pid"])
    log = (stack.var / "log" / "supervisor.log").read_text()
    assert f"exchange (pid {old}) exited with -9" in log
    shown = stack.run("status", timeout=60)
    assert "exchange" in shown.stdout and "restarts 1" in shown.stdout


def test_demo_tells_the_story(stack: Stack) -> None:
    """Runs after the exchange restart: the paid path works again, records verify, books move."""
    _wait_settled(stack, stack.receipts)  # earlier jobs' settlements must not land mid-demo
    demo = stack.run("demo", timeout=300)
    assert demo.returncode == 0, demo.stdout + demo.stderr + _logs(stack.var)
    assert "cocore verify receipt → ok=True" in demo.stdout
    assert "AppView verifySettlement → ok=True" in demo.stdout
    lines = [x.split() for x in demo.stdout.splitlines() if x.strip().startswith(("requester",
             "provider", "treasury"))]  # fmt: skip
    change = {row[0]: int(row[3].replace(",", "")) for row in lines}
    charged = next(x for x in demo.stdout.splitlines() if "charged" in x)
    amount = int(charged.split("charged ")[1].split(",")[0])
    fee = int(charged.split("exchange fee ")[1].split(" ")[0])
    if "onboarding" not in demo.stdout:  # the grants came with the earlier test's job
        assert change == {"requester": -amount, "provider": amount - fee, "treasury": fee}


def test_wipe_removes_the_requesters_records_from_the_appview(stack: Stack, tmp_path: Path) -> None:
    """`cocore account wipe` deletes the records from the PDS; the AppView drops them."""
    env = stack.stack_env()
    accounts = json.loads((stack.var / "stack" / "accounts.json").read_text())
    did, url = accounts["requester"]["did"], env["COCORE_APPVIEW_URL"] + "/xrpc/"
    jobs = httpx.get(url + "dev.cocore.compute.listJobs", params={"requester": did}).json()
    assert jobs["jobs"], "the requester's jobs were indexed"
    cli = {**os.environ, "COCORE_ACCOUNT_FILE": str(tmp_path / "account.json"),
           "COCORE_APP_PASSWORD": accounts["requester"]["password"]}  # fmt: skip
    cocore = [str(Path(sys.executable).parent / "cocore"), "account"]
    login = [*cocore, "login", "--identifier", accounts["requester"]["handle"],
             "--gateway", env["COCORE_GATEWAY_URL"], "--pds", env["COCORE_PDS_URL"]]  # fmt: skip
    for argv in (login, [*cocore, "wipe", "--yes"]):
        done = subprocess.run(argv, env=cli, capture_output=True, text=True, timeout=120,
                              check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["recordsDeleted"] >= len(jobs["jobs"])
    deadline = time.monotonic() + 60
    while httpx.get(url + "dev.cocore.compute.listJobs", params={"requester": did}).json()["jobs"]:
        assert time.monotonic() < deadline, "the AppView still lists the wiped jobs"
        time.sleep(0.5)
    old = httpx.post(env["OPENAI_BASE_URL"] + "/chat/completions", json={},
                     headers={"authorization": f"Bearer {env['OPENAI_API_KEY']}"})  # fmt: skip
    assert old.status_code == 401  # the keys went with the account


def _wait_settled(stack: Stack, receipts: list[str]) -> None:
    url = stack.stack_env()["COCORE_APPVIEW_URL"] + "/xrpc/dev.cocore.compute.listSettlements"
    for receipt in receipts:
        deadline = time.monotonic() + 120
        while not httpx.get(url, params={"receipt": receipt}).json().get("settlements"):
            assert time.monotonic() < deadline, f"{receipt} was never settled"
            time.sleep(0.5)


def test_down_stops_exactly_what_up_started(stack: Stack) -> None:
    status = stack.status
    pids = [int(status["supervisor"])]  # type: ignore[call-overload]
    pids += [int(s["pid"]) for s in status["services"].values()]  # type: ignore[attr-defined]
    assert {"plc", "pds", "appview", "exchange", "matchmaker", "gateway", "envoy",
            "provider"} <= set(status["services"])  # type: ignore[call-overload]  # fmt: skip
    assert all(_alive(p) for p in pids)
    down = stack.run("down", timeout=120)
    assert down.returncode == 0, down.stderr
    assert not any(_alive(p) for p in pids)
    assert not (stack.var / "stack.env").exists()
    assert (stack.var / "log" / "gateway.log").exists()  # logs are kept
    again = stack.run("status", timeout=60)
    assert again.returncode == 1 and "not running" in again.stdout
