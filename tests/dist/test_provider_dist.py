"""The one-file provider program: build the Linux zipapp and run it with nothing else on the path.

The Linux x86-64 build is the same build as the macOS one (same script, same requirements,
other wheels), and it runs here, so this proves the artifact works: `--help`, `init` in an
empty HOME, `models tiny`, and every provider module importing (the outbox's migrations
included) from the zipapp alone, under `python -S` so the venv cannot fill a gap. The macOS
zipapp (`make provider-dist`) is checked for layout when it is in `dist/`.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tomllib
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import REPO

from .conftest import BUILD_SCRIPT

pytestmark = pytest.mark.slow

ELF = b"\x7fELF"
MACHO_64 = b"\xcf\xfa\xed\xfe"  # MH_MAGIC_64, little-endian
CPU_ARM64 = (0x0100000C).to_bytes(4, "little")
SERVER_ONLY_DIRS = ("asyncpg/", "uvicorn/", "starlette/", "envoy/")
EXCHANGE_DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"

PROBE = """
import asyncio, importlib, json, os, pkgutil, sys
from datetime import UTC, datetime
from pathlib import Path
import services.provider
names = [m.name for m in pkgutil.walk_packages(services.provider.__path__, "services.provider.")
         if ".migrations" not in m.name]
for name in names:
    importlib.import_module(name)
from services.provider.outbox import Outbox
async def outbox():
    box = await Outbox.open(Path(sys.argv[1]) / "outbox.sqlite", lambda: datetime.now(UTC))
    await box.close()
asyncio.run(outbox())
present = []
for name in ("asyncpg", "uvicorn", "starlette"):
    try:
        importlib.import_module(name)
        present.append(name)
    except ImportError:
        pass
allowed = (os.environ["SHIV_ROOT"], sys.base_prefix, sys.argv[2])  # argv[2]: the zipapp
outside = sorted({m.__file__ for m in list(sys.modules.values())
                  if getattr(m, "__file__", None) and not m.__file__.startswith(allowed)})
print(json.dumps({"modules": names, "server_only": present, "outside": outside}))
"""


@pytest.fixture(scope="module")
def linux_pyz(build: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, str(BUILD_SCRIPT), "--platform", "linux", "--out", str(out)],
        capture_output=True, text=True, check=False, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    version = build.project()["version"]
    path = out / f"cocore-provider-{version}-linux-x86_64.pyz"
    assert done.stdout.strip() == str(path)
    return path


@pytest.fixture(scope="module")
def shiv_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("shiv")  # one unpack for every run below


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


def run(
    pyz: Path, shiv_root: Path, home: Path, *args: str, probe: bool = False
) -> subprocess.CompletedProcess[str]:
    """The zipapp under `python -S` (no site-packages) in a clean environment."""
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "SHIV_ROOT": str(shiv_root)}
    if probe:
        env["SHIV_INTERPRETER"] = "1"
    return subprocess.run(
        [sys.executable, "-S", str(pyz), *args],
        capture_output=True, text=True, env=env, check=False, timeout=300,
    )  # fmt: skip


def test_help_names_every_command(linux_pyz: Path, shiv_root: Path, home: Path) -> None:
    done = run(linux_pyz, shiv_root, home, "--help")
    assert done.returncode == 0, done.stderr
    for command in ("init", "login", "serve", "status", "doctor", "models"):
        assert command in done.stdout
    with linux_pyz.open("rb") as f:
        assert f.readline() == b"#!/usr/bin/env python3.11\n"


def test_init_creates_keys_and_config_once(linux_pyz: Path, shiv_root: Path, home: Path) -> None:
    first = run(linux_pyz, shiv_root, home, "init", "--matchmaker", "mm.example.net:50051",
                "--exchange-did", EXCHANGE_DID)  # fmt: skip
    assert first.returncode == 0, first.stderr
    agent_home = home / ".cocore-provider"
    assert first.stdout.startswith(f"created keys in {agent_home / 'keys'}")
    signing = agent_home / "keys" / "signing-key.pem"
    assert signing.stat().st_mode & 0o777 == 0o600
    assert agent_home.stat().st_mode & 0o777 == 0o700
    config = tomllib.loads((agent_home / "config.toml").read_text())
    assert config == {"matchmaker": "mm.example.net:50051", "exchange_did": EXCHANGE_DID}
    pem = signing.read_bytes()
    again = run(linux_pyz, shiv_root, home, "init", "--slots", "2")
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("kept existing keys")
    assert signing.read_bytes() == pem
    assert tomllib.loads((agent_home / "config.toml").read_text())["slots"] == 2


def test_init_refuses_bad_input_in_one_line(linux_pyz: Path, shiv_root: Path, home: Path) -> None:
    done = run(linux_pyz, shiv_root, home, "init", "--matchmaker", "no-port-here")
    assert done.returncode == 2
    assert done.stderr == "cocore-provider: matchmaker must be host:port\n"
    assert not (home / ".cocore-provider").exists()


def test_models_tiny_builds_the_same_model_as_the_repo(
    linux_pyz: Path, shiv_root: Path, home: Path, tmp_path: Path
) -> None:
    from services.provider.models import build_tiny_model

    target = home / "models" / "tiny-llama"
    with ThreadPoolExecutor(1) as pool:  # the zipapp builds while this process builds its own
        running = pool.submit(run, linux_pyz, shiv_root, home, "models", "tiny", str(target))
        reference = build_tiny_model(tmp_path / "reference" / "tiny-llama")
        done = running.result()
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(target)
    assert _digests(target) == _digests(reference)  # the builder is byte-deterministic
    listing = run(linux_pyz, shiv_root, home, "models", "list", "--dir", str(target.parent))
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.split()[0] == "tiny-llama" and listing.stdout.rstrip().endswith("ok")


def test_every_provider_module_runs_from_the_zipapp_alone(
    linux_pyz: Path, shiv_root: Path, home: Path
) -> None:
    done = run(linux_pyz, shiv_root, home, "-c", PROBE, str(home), str(linux_pyz), probe=True)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert "services.provider.agent" in report["modules"]
    assert "services.provider.link.link" in report["modules"]
    assert len(report["modules"]) > 50
    assert report["server_only"] == []
    assert report["outside"] == []
    assert (home / "outbox.sqlite").exists()  # alembic + aiosqlite ran the migrations


def test_linux_zipapp_layout(linux_pyz: Path) -> None:
    with zipfile.ZipFile(linux_pyz) as zf:
        check_layout(zf, ELF, "x86_64-linux-gnu.so", root="~/.cache/cocore/shiv")
        core = zf.open("site-packages/mlx/core.cpython-311-x86_64-linux-gnu.so").read(20)
        assert core[18:20] == (62).to_bytes(2, "little")  # EM_X86_64


def test_macos_zipapp_layout(build: ModuleType) -> None:
    """`make provider-dist` output: mlx's macOS wheel (Metal) inside, arm64 Mach-O only."""
    version = build.project()["version"]
    path = REPO / "dist" / f"cocore-provider-{version}-macos-arm64.pyz"
    if not path.exists():
        pytest.skip(f"{path.name} is not built (make provider-dist)")
    with zipfile.ZipFile(path) as zf:
        check_layout(zf, MACHO_64 + CPU_ARM64, "darwin.so", root="~/Library/Caches/cocore/shiv")
        names = set(zf.namelist())
        for lib in ("mlx/lib/libmlx.dylib", "mlx/lib/mlx.metallib"):
            assert "site-packages/" + lib in names
        assert any(n.startswith("site-packages/mlx_metal-") for n in names)
        dylib = zf.open("site-packages/mlx/lib/libmlx.dylib").read(8)
        assert dylib == MACHO_64 + CPU_ARM64


def check_layout(zf: zipfile.ZipFile, magic: bytes, core_suffix: str, root: str) -> None:
    """Entry point, our sources, mlx for this platform, no server-only packages, and every
    native library (.so / .dylib) built for the target."""
    env = json.loads(zf.read("environment.json"))
    assert env["entry_point"] == "services.provider.cli:main"
    assert env["root"] == root
    names = zf.namelist()
    site = [n[len("site-packages/") :] for n in names if n.startswith("site-packages/")]
    assert f"mlx/core.cpython-311-{core_suffix}" in site
    assert "services/provider/cli/__init__.py" in site
    assert "cocore/crypto/__init__.py" in site
    assert any(n.startswith("cocore/lexicon/_data/") and n.endswith(".json") for n in site)
    assert "services/provider/migrations/env.py" in site
    assert not any(n.startswith(("services/gateway/", "services/exchange/")) for n in site)
    assert not any(n.startswith(SERVER_ONLY_DIRS) for n in site)
    assert not any("__pycache__" in n for n in site)
    native = [n for n in site if n.endswith((".so", ".dylib")) or ".so." in n]
    assert len(native) > 20
    for name in native:
        head = zf.open("site-packages/" + name).read(len(magic))
        assert head == magic or head[:4] == b"\xca\xfe\xba\xbe", name  # or a universal binary


def _digests(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in directory.iterdir()}
