"""`services/provider/dist/install.sh` and the LaunchAgent plist it renders.

macOS's own tools are stood in for by small scripts on PATH: `uname` says Darwin/arm64,
`launchctl` records what it was asked, `plutil -lint` parses with `plistlib`. Everything
else (paths, copying, rendering, the order of stop / replace / start) is the real script.
"""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from services.provider.config import PREFIX, ProviderConfig
from tests.conftest import REPO

DIST = REPO / "services" / "provider" / "dist"
LABEL = "com.cocore.provider"
EXCHANGE_DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"

STUBS = {
    "uname": '#!/bin/sh\ncase "$1" in -s) echo "${STUB_OS:-Darwin}" ;; -m) echo arm64 ;; esac\n',
    "launchctl": (
        '#!/bin/sh\necho "$*" >> "$STUB_LOG"\n'
        'if [ "$1" = print ]; then [ -e "$STUB_LOADED" ]; exit $?; fi\n'
    ),
    "plutil": (
        f"#!{sys.executable}\nimport plistlib, sys\n"
        "with open(sys.argv[-1], 'rb') as f:\n    plistlib.load(f)\n"
    ),
}


class Mac:
    """A temp HOME with the stubs on PATH; `install` runs the real script there."""

    def __init__(self, root: Path) -> None:
        self.home = root / "home"
        self.home.mkdir()
        self.bin = root / "bin"
        self.bin.mkdir()
        for name, text in STUBS.items():
            (self.bin / name).write_text(text)
            (self.bin / name).chmod(0o755)
        self.log = root / "launchctl.log"
        self.loaded = root / "loaded"
        self.uid = os.getuid()

    @property
    def plist_path(self) -> Path:
        return self.home / "Library" / "LaunchAgents" / f"{LABEL}.plist"

    @property
    def app_dir(self) -> Path:
        return self.home / "Library" / "Application Support" / "cocore"

    def install(self, *args: str, os_name: str = "Darwin") -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": f"{self.bin}:{os.environ['PATH']}", "HOME": str(self.home),
            "STUB_LOG": str(self.log), "STUB_LOADED": str(self.loaded), "STUB_OS": os_name,
        }  # fmt: skip
        return subprocess.run(
            ["bash", str(DIST / "install.sh"), *args],
            capture_output=True, text=True, env=env, check=False, timeout=60,
        )  # fmt: skip

    def launchctl_calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def plist(self) -> dict[str, Any]:
        with self.plist_path.open("rb") as f:
            loaded: dict[str, Any] = plistlib.load(f)
        return loaded


@pytest.fixture
def mac(tmp_path: Path) -> Mac:
    return Mac(tmp_path)


@pytest.fixture
def pyz(tmp_path: Path) -> Path:
    path = tmp_path / "cocore-provider-0.1.0-macos-arm64.pyz"
    path.write_bytes(b"#!/usr/bin/env python3.11\nversion one\n")
    return path


def test_the_template_is_a_plist_with_every_placeholder_in_strings() -> None:
    text = (DIST / f"{LABEL}.plist").read_text()
    filled = text.replace("@EXIT_TIMEOUT@", "90")
    for name in ("PYTHON", "PYZ", "APP_DIR", "LOG_DIR", "PROVIDER_HOME", "MATCHMAKER",
                 "MATCHMAKER_DID", "EXCHANGE_DID", "PLC_URL", "LOG_LEVEL"):  # fmt: skip
        assert f"@{name}@" in filled
    assert plistlib.loads(filled.encode())["Label"] == LABEL


def test_install_renders_the_agent_and_bootstraps_it(mac: Mac, pyz: Path) -> None:
    done = mac.install(
        "--python", sys.executable, "--matchmaker", "mm.example.net:50051",
        "--exchange-did", EXCHANGE_DID, "--log-level", "DEBUG", str(pyz),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    installed = mac.app_dir / "cocore-provider.pyz"
    assert installed.read_bytes() == pyz.read_bytes()
    assert mac.app_dir.stat().st_mode & 0o777 == 0o700
    plist = mac.plist()
    assert plist["Label"] == LABEL
    assert plist["ProgramArguments"] == [sys.executable, "-I", "-u", str(installed), "serve"]
    assert plist["RunAtLoad"] is True
    assert plist["KeepAlive"] == {"SuccessfulExit": False}
    assert plist["ExitTimeOut"] == 90
    logs = mac.home / "Library" / "Logs" / "cocore"
    assert plist["StandardOutPath"] == f"{logs}/provider.out.log"
    assert plist["StandardErrorPath"] == f"{logs}/provider.log"
    assert logs.is_dir()
    assert plist["WorkingDirectory"] == str(mac.app_dir)
    assert plist["EnvironmentVariables"] == {
        "COCORE_PROVIDER_HOME": f"{mac.home}/.cocore-provider",
        "COCORE_PROVIDER_MATCHMAKER": "mm.example.net:50051",
        "COCORE_PROVIDER_MATCHMAKER_DID": "",
        "COCORE_PROVIDER_EXCHANGE_DID": EXCHANGE_DID,
        "COCORE_PROVIDER_PLC_URL": "",
        "COCORE_PROVIDER_LOG_LEVEL": "DEBUG",
    }
    domain = f"gui/{mac.uid}"
    assert mac.launchctl_calls() == [
        f"print {domain}/{LABEL}",  # not loaded yet: nothing to stop
        f"bootstrap {domain} {mac.plist_path}",
    ]
    assert "has no keys yet" in done.stderr
    assert list(mac.app_dir.glob("*.new")) == []


def test_the_agents_environment_is_read_by_the_provider_config(mac: Mac, pyz: Path) -> None:
    """Every variable is a real config key; an empty one falls back to config.toml."""
    assert mac.install("--python", sys.executable, "--matchmaker", "mm.example.net:50051",
                       str(pyz)).returncode == 0  # fmt: skip
    env = mac.plist()["EnvironmentVariables"]
    known = {PREFIX + f.name.upper() for f in fields(ProviderConfig)}
    assert set(env) <= known
    home = Path(env["COCORE_PROVIDER_HOME"])
    home.mkdir()
    (home / "config.toml").write_text(
        f'matchmaker = "127.0.0.1:1"\nexchange_did = "{EXCHANGE_DID}"\nplc_url = "https://plc.example"\n'
    )
    config = ProviderConfig.load(env)
    assert config.home == home
    assert config.matchmaker == "mm.example.net:50051"  # the agent's override
    assert config.exchange_did == EXCHANGE_DID  # empty in the plist: config.toml's
    assert config.plc_url == "https://plc.example"
    assert config.log_level == "INFO"


def test_values_are_escaped_for_xml(mac: Mac, pyz: Path) -> None:
    url = "https://plc.example/a?x=1&y=<2>|'\"\\z"
    assert mac.install("--python", sys.executable, "--plc-url", url, str(pyz)).returncode == 0
    assert mac.plist()["EnvironmentVariables"]["COCORE_PROVIDER_PLC_URL"] == url


def test_upgrade_stops_the_old_agent_clears_its_libraries_and_starts_the_new(
    mac: Mac, pyz: Path, tmp_path: Path
) -> None:
    assert mac.install("--python", sys.executable, str(pyz)).returncode == 0
    mac.loaded.touch()  # launchd now knows the agent
    unpacked = mac.home / "Library" / "Caches" / "cocore" / "shiv" / "old-build"
    unpacked.mkdir(parents=True)
    keys = mac.home / ".cocore-provider" / "keys"
    keys.mkdir(parents=True)
    (keys / "signing-key.pem").write_text("kept")
    newer = tmp_path / "cocore-provider-0.2.0-macos-arm64.pyz"
    newer.write_bytes(b"#!/usr/bin/env python3.11\nversion two\n")
    done = mac.install("--python", sys.executable, str(newer))
    assert done.returncode == 0, done.stderr
    domain = f"gui/{mac.uid}"
    assert mac.launchctl_calls()[2:] == [
        f"print {domain}/{LABEL}",
        f"bootout {domain}/{LABEL}",
        f"bootstrap {domain} {mac.plist_path}",
    ]
    assert (mac.app_dir / "cocore-provider.pyz").read_bytes() == newer.read_bytes()
    assert not unpacked.parent.exists()
    assert (keys / "signing-key.pem").read_text() == "kept"
    assert "has no keys yet" not in done.stderr


def test_uninstall_removes_the_agent_and_keeps_the_keys(mac: Mac, pyz: Path) -> None:
    assert mac.install("--python", sys.executable, str(pyz)).returncode == 0
    mac.loaded.touch()
    keys = mac.home / ".cocore-provider" / "keys"
    keys.mkdir(parents=True)
    done = mac.install("--uninstall")
    assert done.returncode == 0, done.stderr
    assert not mac.plist_path.exists()
    assert not mac.app_dir.exists()
    assert keys.is_dir()
    assert mac.launchctl_calls()[-1] == f"bootout gui/{mac.uid}/{LABEL}"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--python", "PY", "--exit-timeout", "soon", "PYZ"], "--exit-timeout must be a number"),
        (["--matchmaker"], "--matchmaker needs a value"),
        (["--bogus", "PYZ"], "unknown option --bogus"),
        (["--python", "PY"], "usage: install.sh"),
        (["--python", "PY", "missing.pyz"], "missing.pyz: no such file"),
        (["--python", "/bin/sh", "PYZ"], "/bin/sh is not Python 3.11"),
        (["--python", "PY", "PYZ", "PYZ"], "one .pyz at a time"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    mac: Mac, pyz: Path, args: list[str], message: str
) -> None:
    real = {"PY": sys.executable, "PYZ": str(pyz)}
    done = mac.install(*(real.get(a, a) for a in args))
    assert done.returncode == 2
    assert message in done.stderr
    assert not (mac.home / "Library").exists()
    assert mac.launchctl_calls() == []


def test_refuses_to_run_anywhere_but_macos(mac: Mac, pyz: Path) -> None:
    done = mac.install("--python", sys.executable, str(pyz), os_name="Linux")
    assert done.returncode == 2
    assert "run it on macOS" in done.stderr
    assert not (mac.home / "Library").exists()


def test_install_script_passes_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed")
    done = subprocess.run([shellcheck, str(DIST / "install.sh")], capture_output=True, text=True,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout
