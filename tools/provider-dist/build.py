"""Build the one-file provider program: a shiv zipapp of `cocore-provider` for macOS or Linux.

    .venv/bin/python tools/provider-dist/build.py [--platform macos|linux] [--out dist]

Cross-building from Linux: the provider's runtime requirements (the project's dependencies
minus the server-only ones, markers evaluated for the target) are resolved and downloaded as
binary wheels for the target with `pip download --platform …`. pip evaluates environment
markers against the machine it runs on, even with `--platform` (so on Linux it would skip
`mlx; platform_system == "Darwin"`), so pip runs with the target's marker environment, and
the result is checked independently here: every wheel must carry a tag the target accepts
and every requirement reachable under the target's markers must be satisfied. Versions follow
`requirements.lock` where it pins them. The verified wheels, and the site-packages they
unpack to, are cached under `var/cache/provider-dist/`, keyed by everything that decides them,
so a rebuild is offline and only zips (the repo's own code is copied fresh every time).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.tags import Tag, compatible_tags, cpython_tags, mac_platforms
from packaging.utils import NormalizedName, canonicalize_name, parse_wheel_filename
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
PYTHON = (3, 11)
# A 3.11 patch release for `python_full_version` markers (the last with python.org installers).
PYTHON_FULL = "3.11.9"
ENTRY_POINT = "services.provider.cli:main"
SHEBANG = "/usr/bin/env python3.11"
# Project dependencies the provider never imports (it keeps its outbox in SQLite and serves
# no HTTP); `tests/dist` proves the zipapp works without them.
SERVER_ONLY = frozenset({"asyncpg", "starlette", "uvicorn", "xds-protos"})
# Runs pip with the target's marker environment (argv[1], JSON) instead of this machine's.
PIP_WITH_TARGET_MARKERS = """
import json, sys
from pip._vendor.packaging import markers
host = markers.default_environment
target = json.loads(sys.argv[1])
markers.default_environment = lambda: {**host(), **target}
from pip._internal.cli.main import main
sys.exit(main(sys.argv[2:]))
"""


class BuildError(Exception):
    """The zipapp cannot be built as asked (bad input, an unresolvable or unusable wheel)."""


@dataclass(frozen=True)
class Target:
    slug: str  # the artifact's suffix: cocore-provider-<version>-<slug>.pyz
    platforms: tuple[str, ...]  # platform tags a wheel may carry, best first
    markers: Mapping[str, str]  # the environment-marker values that differ per platform
    shiv_root: str  # where the zipapp unpacks its libraries on first run (SHIV_ROOT overrides)

    def environment(self) -> dict[str, str]:
        version = ".".join(map(str, PYTHON))
        return {
            "implementation_name": "cpython",
            "implementation_version": PYTHON_FULL,
            "os_name": "posix",
            "platform_python_implementation": "CPython",
            "platform_release": "",
            "platform_version": "",
            "python_full_version": PYTHON_FULL,
            "python_version": version,
            **self.markers,
        }

    def tags(self) -> set[Tag]:
        abi = "cp" + "".join(map(str, PYTHON))
        return {
            *cpython_tags(PYTHON, abis=[abi], platforms=self.platforms),
            *compatible_tags(PYTHON, abi, platforms=self.platforms),
        }


def _manylinux_x86_64() -> tuple[str, ...]:
    # mlx-cpu needs glibc 2.35 (Ubuntu 22.04, Debian 12); older manylinux wheels run there too.
    newest_first = [f"manylinux_2_{minor}_x86_64" for minor in range(35, 16, -1)]
    return (*newest_first, "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64")


TARGETS = {
    "macos": Target(
        slug="macos-arm64",
        platforms=tuple(mac_platforms((14, 0), "arm64")),  # macOS 14 (Sonoma) and later
        markers={
            "sys_platform": "darwin",
            "platform_system": "Darwin",
            "platform_machine": "arm64",
        },
        shiv_root="~/Library/Caches/cocore/shiv",
    ),
    "linux": Target(
        slug="linux-x86_64",
        platforms=_manylinux_x86_64(),
        markers={"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64"},
        shiv_root="~/.cache/cocore/shiv",
    ),
}


def project() -> dict[str, object]:
    with (REPO / "pyproject.toml").open("rb") as f:
        section = tomllib.load(f)["project"]
    assert isinstance(section, dict)
    return section


def runtime_requirements(dependencies: Iterable[str], target: Target) -> list[str]:
    """The provider's direct requirements on `target`, markers resolved away."""
    env = target.environment()
    wanted = []
    for raw in dependencies:
        req = Requirement(raw)
        if canonicalize_name(req.name) in SERVER_ONLY:
            continue
        if req.marker is not None and not req.marker.evaluate({**env, "extra": ""}):
            continue
        req.marker = None
        wanted.append(str(req))
    return wanted


def fetch_wheels(requirements: Sequence[str], target: Target, cache: Path) -> Path:
    """The directory of verified wheels for `requirements` on `target`, downloaded once per
    cache key (requirements, target, Python, lock file)."""
    constraints = (REPO / "requirements.lock").read_text(encoding="utf-8")
    key = hashlib.sha256(
        json.dumps(
            [list(requirements), target.slug, target.platforms, PYTHON, constraints]
        ).encode()
    ).hexdigest()[:16]
    done = cache / target.slug / key
    if not (done / "complete").exists():
        partial = done.with_name(key + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        _pip_download(requirements, target, partial)
        check_closure(partial, requirements, target)
        (partial / "complete").write_text("\n".join(requirements) + "\n", encoding="utf-8")
        shutil.rmtree(done, ignore_errors=True)
        partial.rename(done)
        for stale in done.parent.iterdir():  # an older lock's set: a few hundred MB each
            if stale != done:
                shutil.rmtree(stale, ignore_errors=True)
    return done


def dependencies_site(wheel_dir: Path, requirements: Sequence[str], target: Target) -> Path:
    """The needed wheels unpacked into `<wheel_dir>/site-packages`, once (it is as fixed as
    the wheels are), so a rebuild only zips."""
    site = wheel_dir / "site-packages"
    if not site.is_dir():
        partial = wheel_dir / "site-packages.partial"
        shutil.rmtree(partial, ignore_errors=True)
        for wheel in check_closure(wheel_dir, requirements, target):
            install_wheel(wheel, partial)
        partial.rename(site)
    return site


def _pip_download(requirements: Sequence[str], target: Target, into: Path) -> None:
    reqs = into / "requirements.in"
    reqs.write_text("\n".join(requirements) + "\n", encoding="utf-8")
    platforms = [arg for p in target.platforms for arg in ("--platform", p)]
    command = [
        sys.executable, "-c", PIP_WITH_TARGET_MARKERS, json.dumps(target.environment()),
        "download", "--quiet", "--disable-pip-version-check", "--only-binary=:all:",
        *platforms, "--python-version", "".join(map(str, PYTHON)), "--implementation", "cp",
        "--dest", str(into), "--requirement", str(reqs),
        "--constraint", str(REPO / "requirements.lock"),
    ]  # fmt: skip
    if subprocess.run(command, check=False).returncode != 0:  # noqa: S603 - our arguments
        raise BuildError(f"pip could not download the {target.slug} wheels (see above)")


def check_closure(wheel_dir: Path, requirements: Sequence[str], target: Target) -> list[Path]:
    """The wheels reachable from `requirements` under the target's markers; raises unless
    every one of them is present, in a version that satisfies it, and runs on the target."""
    wheels = _index(wheel_dir, target)
    env = target.environment()
    needed: set[NormalizedName] = set()
    done: set[tuple[NormalizedName, frozenset[str]]] = set()
    pending = [Requirement(r) for r in requirements]
    while pending:
        req = pending.pop()
        name = canonicalize_name(req.name)
        if name not in wheels:
            raise BuildError(f"{target.slug}: no wheel for {req} in {wheel_dir}")
        version, path = wheels[name]
        if not req.specifier.contains(version, prereleases=True):
            raise BuildError(f"{target.slug}: {path.name} does not satisfy {req}")
        needed.add(name)
        if (name, frozenset(req.extras)) in done:
            continue
        done.add((name, frozenset(req.extras)))
        for dep in _requires(path):
            if _applies(dep.marker, env, req.extras):
                pending.append(dep)
    return sorted(wheels[n][1] for n in needed)


def _index(wheel_dir: Path, target: Target) -> dict[NormalizedName, tuple[Version, Path]]:
    accepted = target.tags()
    wheels: dict[NormalizedName, tuple[Version, Path]] = {}
    for path in sorted(wheel_dir.glob("*.whl")):
        name, version, _build, tags = parse_wheel_filename(path.name)
        if not tags & accepted:
            raise BuildError(f"{path.name} does not run on {target.slug}")
        if name in wheels:
            raise BuildError(f"two wheels of {name} in {wheel_dir}")
        wheels[name] = (version, path)
    return wheels


def _requires(wheel: Path) -> list[Requirement]:
    with zipfile.ZipFile(wheel) as zf:
        metadata = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        headers = BytesHeaderParser().parsebytes(zf.read(metadata))
    return [Requirement(r) for r in headers.get_all("Requires-Dist") or []]


def _applies(marker: Marker | None, env: Mapping[str, str], extras: Iterable[str]) -> bool:
    if marker is None:
        return True
    return any(marker.evaluate({**env, "extra": e}) for e in (*extras, ""))


def install_wheel(wheel: Path, site: Path) -> None:
    """Unpack one wheel into `site` as pip would for purelib/platlib (scripts and headers are
    left out: the zipapp has one entry point)."""
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            parts = info.filename.split("/")
            if ".." in parts or info.filename.startswith("/"):
                raise BuildError(f"{wheel.name}: unsafe path {info.filename!r}")
            if parts[0].endswith(".data"):
                if len(parts) < 3 or parts[1] not in ("purelib", "platlib"):
                    continue
                parts = parts[2:]
            if info.is_dir():
                continue
            dest = site.joinpath(*parts)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(zf.read(info))
            mode = (info.external_attr >> 16) & 0o777
            dest.chmod(mode | 0o644 if mode else 0o644)


def copy_sources(site: Path) -> None:
    """The repo's own code the provider runs: `cocore` with its lexicons, `services.provider`."""
    # `services/provider/dist` is the Mac install kit (plist, script), not code.
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "dist")
    shutil.copytree(REPO / "libs" / "cocore", site / "cocore", ignore=skip)
    shutil.copytree(REPO / "lexicons", site / "cocore" / "lexicon" / "_data", ignore=skip)
    (site / "services").mkdir(parents=True)
    shutil.copy2(REPO / "services" / "__init__.py", site / "services" / "__init__.py")
    shutil.copytree(REPO / "services" / "provider", site / "services" / "provider", ignore=skip)


def build(platform: str, out_dir: Path, cache: Path) -> Path:
    if platform not in TARGETS:
        raise BuildError(f"unknown platform {platform!r} (one of: {', '.join(TARGETS)})")
    target = TARGETS[platform]
    meta = project()
    dependencies = meta["dependencies"]
    assert isinstance(dependencies, list)
    requirements = runtime_requirements(dependencies, target)
    deps = dependencies_site(fetch_wheels(requirements, target, cache), requirements, target)
    output = out_dir / f"cocore-provider-{meta['version']}-{target.slug}.pyz"
    out_dir.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    with tempfile.TemporaryDirectory(prefix="provider-dist-") as tmp:
        ours = Path(tmp) / "site-packages"
        copy_sources(ours)
        shiv = [
            sys.executable, "-m", "shiv", "--site-packages", str(deps), "--site-packages",
            str(ours), "--entry-point", ENTRY_POINT, "--python", SHEBANG,
            "--root", target.shiv_root, "--reproducible", "--compressed",
            "--output-file", str(partial),
        ]  # fmt: skip
        done = subprocess.run(shiv, check=False, stdout=subprocess.DEVNULL)  # noqa: S603
    if done.returncode != 0:
        raise BuildError("shiv failed (see above)")
    partial.replace(output)
    return output


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--platform", default="macos", help="macos (arm64) or linux (x86-64)")
    parser.add_argument("--out", type=Path, default=REPO / "dist", help="output directory")
    parser.add_argument(
        "--cache", type=Path, default=REPO / "var" / "cache" / "provider-dist", help="wheel cache"
    )
    args = parser.parse_args(argv)
    try:
        path = build(args.platform, args.out.absolute(), args.cache.absolute())
    except BuildError as e:
        print(f"provider-dist: {e}", file=sys.stderr)  # noqa: T201
        return 1
    print(path)  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
