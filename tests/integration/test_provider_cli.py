"""`cocore-provider` as a user runs it: subprocesses against a real PDS and matchmaker."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from cocore.lexicon import ids
from services.provider.models import TINY_ID
from tests.fixtures.atproto import AtprotoStack

from .matchmaker_kit import SERVICE_DID, matchmaker_config, running_matchmaker
from .provider_kit import PayingRequester, publish_policy

BIN = Path(sys.executable).parent / "cocore-provider"


def cli(home: Path, *args: str, stdin: str | None = None, timeout: float = 120) -> Any:
    env = {**os.environ, "COCORE_PROVIDER_HOME": str(home)}
    return subprocess.run(
        [str(BIN), *args], env=env, input=stdin, capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_creates_owner_only_keys_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = cli(home, "init", "--matchmaker", "127.0.0.1:5000", "--exchange-did", "did:plc:x")
    assert first.returncode == 0, first.stderr
    assert "created keys" in first.stdout
    keys = {p.name: p.read_bytes() for p in (home / "keys").iterdir()}
    second = cli(home, "init", "--slots", "3")
    assert second.returncode == 0 and "kept existing keys" in second.stdout
    assert {p.name: p.read_bytes() for p in (home / "keys").iterdir()} == keys
    assert mode(home) == mode(home / "keys") == 0o700
    assert mode(home / "keys" / "signing-key.pem") == 0o600
    assert mode(home / "keys" / "encryption-key.x25519") == 0o600
    assert mode(home / "config.toml") == 0o600
    config = (home / "config.toml").read_text()
    assert 'matchmaker = "127.0.0.1:5000"' in config and "slots = 3" in config


def test_bad_input_is_one_line_and_changes_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    bad = cli(home, "init", "--exchange-did", "not-a-did")
    assert bad.returncode == 2
    assert (
        bad.stderr.strip() == "cocore-provider: exchange_did must be a DID (did:plc:… or did:web:…)"
    )
    assert not home.exists()
    login = cli(home, "login", "someone.test", "--pds", "http://127.0.0.1:1", "--password-stdin",
                stdin="pw\n")  # fmt: skip
    assert login.returncode == 2 and "cocore-provider init" in login.stderr
    assert "Traceback" not in login.stderr + bad.stderr


def test_models_tiny_builds_a_listed_model(tmp_path: Path) -> None:
    built = cli(tmp_path / "home", "models", "tiny", str(tmp_path / "models" / TINY_ID))
    assert built.returncode == 0, built.stderr
    listed = cli(tmp_path / "home", "models", "list", "--dir", str(tmp_path / "models"))
    assert listed.returncode == 0 and TINY_ID in listed.stdout and " ok" in listed.stdout
    again = cli(tmp_path / "home", "models", "tiny", str(tmp_path / "models" / TINY_ID))
    assert again.returncode == 2 and "already exists" in again.stderr


def test_status_without_a_serving_agent(tmp_path: Path) -> None:
    result = cli(tmp_path / "home", "status")
    assert result.returncode == 0 and result.stdout.startswith("not running")


@pytest.mark.pds
async def test_login_stores_encrypted_credentials_only_when_they_work(
    atproto_stack: AtprotoStack, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    account = await atproto_stack.create_account()
    assert cli(home, "init").returncode == 0
    wrong = cli(home, "login", account.handle, "--pds", atproto_stack.pds_url,
                "--password-stdin", stdin="wrong-password\n")  # fmt: skip
    assert wrong.returncode == 2 and "login refused" in wrong.stderr
    assert not (home / "credentials.enc").exists()
    ok = cli(home, "login", account.handle, "--pds", atproto_stack.pds_url, "--password-stdin",
             stdin=account.password + "\n")  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert str(account.client.did) in ok.stdout
    stored = (home / "credentials.enc").read_bytes()
    assert mode(home / "credentials.enc") == 0o600
    assert account.password.encode() not in stored and account.handle.encode() not in stored
    (home / "keys" / "credentials.key").write_bytes(os.urandom(32))  # another machine's key
    doctor = cli(home, "doctor", "--no-load")
    assert "✗ PDS login: the credentials do not decrypt on this machine" in doctor.stdout


@pytest.fixture
async def served(
    atproto_stack: AtprotoStack, tmp_path: Path, tiny_model_dir: Path
) -> AsyncIterator[dict[str, Any]]:
    """A matchmaker, an exchange policy and a logged-in home (not yet serving)."""
    exchange = await publish_policy(atproto_stack)
    async with running_matchmaker(matchmaker_config(atproto_stack, tmp_path / "mm.sqlite")) as mm:
        home = tmp_path / "home"
        account = await atproto_stack.create_account()
        init = cli(
            home, "init", "--matchmaker", mm.address, "--matchmaker-did", SERVICE_DID,
            "--exchange-did", str(exchange.did), "--plc-url", atproto_stack.plc_url,
            "--models-dir", str(tiny_model_dir.parent), "--model", TINY_ID,
        )  # fmt: skip
        assert init.returncode == 0, init.stderr
        login = cli(home, "login", account.handle, "--pds", atproto_stack.pds_url,
                    "--password-stdin", stdin=account.password + "\n")  # fmt: skip
        assert login.returncode == 0, login.stderr
        requester = PayingRequester(mm.address, account.client, str(exchange.did))
        try:
            yield {"home": home, "mm": mm, "account": account, "requester": requester}
        finally:
            await requester.aclose()


@pytest.mark.pds
@pytest.mark.slow
async def test_doctor_passes_then_names_what_broke(served: dict[str, Any]) -> None:
    home = served["home"]
    healthy = await asyncio.to_thread(cli, home, "doctor")
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    for name in ("keys", "PDS login", "clock skew", "matchmaker", "exchange policy",
                 "model load", "receipt outbox"):  # fmt: skip
        assert f"✓ {name}:" in healthy.stdout, healthy.stdout
    broken = await asyncio.to_thread(
        lambda: subprocess.run(
            [str(BIN), "doctor", "--no-load"],
            env={
                **os.environ,
                "COCORE_PROVIDER_HOME": str(home),
                "COCORE_PROVIDER_MATCHMAKER": "127.0.0.1:1",
            },
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    )
    assert broken.returncode == 1
    assert "✗ matchmaker: 127.0.0.1:1 (plaintext): UNAVAILABLE" in broken.stdout
    assert "→ check `matchmaker` and `matchmaker_tls` in config.toml" in broken.stdout


@pytest.mark.pds
@pytest.mark.slow
async def test_serve_reports_status_and_drains_on_sigterm(served: dict[str, Any]) -> None:
    home, account = served["home"], served["account"]
    env = {
        **os.environ,
        "COCORE_PROVIDER_HOME": str(home),
        "COCORE_PROVIDER_STATUS_INTERVAL_S": "0.2",
    }
    log = (home / "serve.log").open("w")
    proc = subprocess.Popen([str(BIN), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        async with asyncio.timeout(60):
            while True:
                text = (await asyncio.to_thread(cli, home, "status")).stdout
                if "connected" in text and "NOT connected" not in text:
                    break
                assert proc.poll() is None, (home / "serve.log").read_text()[-2000:]
                await asyncio.sleep(0.3)
        assert "phase:        serving" in text and TINY_ID in text
        assert "attestation:  " in text and "h left" in text and "outbox:" in text
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        log.close()
    after = cli(home, "status")
    assert after.stdout.startswith("not running (last phase stopped")
    records = [v async for v in account.client.iter_records(account.client.did,
                                                            ids.COMPUTE_PROVIDER)]  # fmt: skip
    assert len(records) == 1 and records[0].value["serving"] is False
