"""The agent's local state: typed config, encrypted credentials, measured host facts, status."""

from __future__ import annotations

import json
import os
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.provider import credentials
from services.provider.config import ProviderConfig, normalise, write_file
from services.provider.errors import ConfigError, CredentialsUnreadable, NotLoggedIn
from services.provider.home import Home
from services.provider.host import _enabled, _linux, _macos
from services.provider.status import describe, is_live


def test_config_reads_the_file_then_the_environment(tmp_path: Path) -> None:
    write_file(tmp_path / "config.toml", normalise({"slots": "3", "models": "a, b"}))
    env = {"COCORE_PROVIDER_HOME": str(tmp_path), "COCORE_PROVIDER_SLOTS": "5",
           "COCORE_PROVIDER_COUNTRY": "de"}  # fmt: skip
    config = ProviderConfig.load(env)
    assert (config.home, config.slots, config.models, config.country) == (
        tmp_path,
        5,
        ("a", "b"),
        "DE",
    )
    assert config.model_root == tmp_path / "models"
    assert config.attestation_s == 86400 and config.renew_before_s == 8 * 3600


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"slots": "0"}, "slots must be 1..256"),
        ({"slots": "many"}, "slots has an invalid value"),
        ({"matchmaker": "nohost"}, "matchmaker must be host:port"),
        ({"renew_before_hours": "30"}, "renew_before_hours"),
        ({"colour": "red"}, "unknown configuration key 'colour'"),
        ({"exchange_did": "x"}, "exchange_did must be a DID"),
    ],
)
def test_bad_config_is_one_clear_error(
    tmp_path: Path, values: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        ProviderConfig.from_values(tmp_path, values)


def test_credentials_are_sealed_to_this_machine(tmp_path: Path) -> None:
    home = Home(tmp_path)
    with pytest.raises(NotLoggedIn):
        credentials.load(home, "m-1")
    creds = credentials.Credentials("alice.test", "app-pass-1234", "http://127.0.0.1:2583")
    credentials.save(home, creds, "m-1")
    blob = home.credentials_file.read_bytes()
    assert b"app-pass" not in blob and b"alice" not in blob
    assert stat.S_IMODE(home.credentials_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(home.credentials_key_file.stat().st_mode) == 0o600
    assert credentials.load(home, "m-1") == creds and "app-pass" not in repr(creds)
    with pytest.raises(CredentialsUnreadable):
        credentials.load(home, "another-machine")
    home.credentials_file.write_bytes(blob[:-1] + bytes([blob[-1] ^ 1]))
    with pytest.raises(CredentialsUnreadable):
        credentials.load(home, "m-1")


def test_host_facts_are_measured_or_left_unknown(tmp_path: Path) -> None:
    assert _enabled("System Integrity Protection status: enabled.") is True
    assert _enabled("System Integrity Protection status: disabled.") is False
    assert _enabled("Authenticated Root status: enabled") is True
    assert _enabled("garbage") is None and _enabled(None) is None
    outputs = {
        "sw_vers": "14.5\n", "hw.model": "Mac14,3\n", "machdep.cpu.brand_string": "Apple M2\n",
        "hw.memsize": str(32 * 2**30), "csrutil status": "status: enabled.",
        "authenticated-root": "Authenticated Root status: disabled",
        "ioreg": '"IOPlatformSerialNumber" = "C02XYZ"\n"IOPlatformUUID" = "UUID-1"',
    }  # fmt: skip

    def run(argv: list[str]) -> str | None:
        joined = " ".join(argv)
        return next((v for k, v in outputs.items() if k in joined), None)

    mac = _macos(run)
    assert (mac.os_version, mac.model_identifier, mac.ram_gb, mac.serial) == (
        "macOS 14.5", "Mac14,3", 32, "C02XYZ")  # fmt: skip
    assert mac.sip_enabled is True and mac.authenticated_root is False
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/machine-id").write_text("abc123\n")
    linux = _linux(tmp_path)
    assert linux.serial == linux.machine_uuid == "abc123"
    assert linux.sip_enabled is None and linux.model_identifier is None


def test_status_lines_say_whether_it_runs_and_what_it_does() -> None:
    now = datetime.now(UTC)
    assert describe(None, now)[0].startswith("not running")
    live = {
        "pid": os.getpid(), "phase": "serving", "updatedAt": now.isoformat(), "did": "did:plc:x",
        "machineId": "3l2", "matchmaker": "127.0.0.1:1", "connected": True, "jobsRunning": 2,
        "models": ["tiny"], "faults": {"big": "model-load-failed: oom"},
        "attestation": {"expiresAt": (now + timedelta(hours=20)).isoformat(), "fault": ""},
        "outbox": {"pending": 3, "held": 1},
    }  # fmt: skip
    assert is_live(live, now)
    text = "\n".join(describe(live, now))
    assert "connected" in text and "jobs running: 2" in text and "big: model-load-failed" in text
    assert "(20.0 h left)" in text and "3 to publish, 1 awaiting delivery" in text
    stale = {**live, "updatedAt": (now - timedelta(minutes=5)).isoformat()}
    assert not is_live(stale, now) and describe(stale, now)[0].startswith("not running")
    assert not is_live({**live, "pid": 2**22 + 12345}, now)


async def test_state_files_are_saved_off_the_serving_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rename can wait on the filesystem journal: the loop serving jobs must not."""
    home = Home(tmp_path)
    threads: list[int] = []
    write = Home.write_json

    def spy(self: Home, path: Path, value: dict[str, object]) -> None:
        threads.append(threading.get_ident())
        write(self, path, value)

    monkeypatch.setattr(Home, "write_json", spy)
    await home.save_json(tmp_path / "status.json", {"phase": "serving"})
    assert threads and threads[0] != threading.get_ident()
    assert json.loads((tmp_path / "status.json").read_text()) == {"phase": "serving"}
    assert stat.S_IMODE((tmp_path / "status.json").stat().st_mode) == 0o600
