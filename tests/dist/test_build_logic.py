"""The cross-build's pure parts: target requirements, tags, the closure check, wheel unpacking."""

from __future__ import annotations

import zipfile
from pathlib import Path
from types import ModuleType

import pytest
from packaging.tags import Tag


def make_wheel(directory: Path, filename: str, requires: list[str], files: dict[str, str]) -> Path:
    """A minimal wheel: METADATA with `Requires-Dist` lines, plus `files`."""
    name, version = filename.split("-")[:2]
    path = directory / filename
    metadata = [f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}"]
    metadata += [f"Requires-Dist: {r}" for r in requires]
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{name}-{version}.dist-info/METADATA", "\n".join(metadata) + "\n")
        for member, text in files.items():
            zf.writestr(member, text)
    return path


DEPENDENCIES = [
    "cryptography>=44",
    "asyncpg>=0.29",
    "uvicorn>=0.30",
    "starlette>=0.40",
    "xds-protos>=1.85.0",
    "mlx-lm[cpu]>=0.32.2; sys_platform == 'linux'",
    "mlx-lm>=0.32.2; sys_platform == 'darwin'",
]


def test_requirements_drop_server_only_deps_and_resolve_markers_for_the_target(
    build: ModuleType,
) -> None:
    mac = build.runtime_requirements(DEPENDENCIES, build.TARGETS["macos"])
    linux = build.runtime_requirements(DEPENDENCIES, build.TARGETS["linux"])
    assert mac == ["cryptography>=44", "mlx-lm>=0.32.2"]
    assert linux == ["cryptography>=44", "mlx-lm[cpu]>=0.32.2"]


def test_the_projects_own_requirements_for_macos(build: ModuleType) -> None:
    deps = build.project()["dependencies"]
    mac = build.runtime_requirements(deps, build.TARGETS["macos"])
    names = {r.split(">")[0].split("=")[0].split("[")[0] for r in mac}
    assert "mlx-lm" in names and "grpcio" in names and "aiosqlite" in names
    assert not names & build.SERVER_ONLY
    assert all(";" not in r for r in mac)  # markers are resolved, never left for pip


def test_target_tags(build: ModuleType) -> None:
    mac = build.TARGETS["macos"].tags()
    assert Tag("cp311", "cp311", "macosx_11_0_arm64") in mac
    assert Tag("py3", "none", "macosx_14_0_arm64") in mac
    assert Tag("cp310", "abi3", "macosx_10_9_universal2") in mac
    assert Tag("py3", "none", "any") in mac
    assert Tag("cp311", "cp311", "macosx_15_0_arm64") not in mac  # needs a newer macOS
    assert Tag("cp312", "cp312", "macosx_11_0_arm64") not in mac
    assert Tag("cp311", "cp311", "manylinux_2_17_x86_64") not in mac
    linux = build.TARGETS["linux"].tags()
    assert Tag("py3", "none", "manylinux_2_35_x86_64") in linux
    assert Tag("cp311", "cp311", "manylinux2014_x86_64") in linux
    assert Tag("py3", "none", "manylinux_2_36_x86_64") not in linux
    assert Tag("cp311", "cp311", "macosx_11_0_arm64") not in linux


def test_closure_follows_the_targets_markers_and_extras(build: ModuleType, tmp_path: Path) -> None:
    make_wheel(tmp_path, "a-1.0-py3-none-any.whl", [
        'b>=2; platform_system == "Darwin"',
        'c; platform_system == "Linux"',  # absent: never needed on macOS
        'd; extra == "x"',
    ], {})  # fmt: skip
    mac = build.TARGETS["macos"]
    with pytest.raises(build.BuildError, match=r"no wheel for b>=2"):
        build.check_closure(tmp_path, ["a"], mac)
    make_wheel(tmp_path, "b-2.0-py3-none-macosx_11_0_arm64.whl", [], {})
    found = build.check_closure(tmp_path, ["a"], mac)
    assert [p.name.split("-")[0] for p in found] == ["a", "b"]
    with pytest.raises(build.BuildError, match=r"no wheel for d"):
        build.check_closure(tmp_path, ["a[x]"], mac)
    (tmp_path / "b-2.0-py3-none-macosx_11_0_arm64.whl").unlink()  # would be foreign on Linux
    with pytest.raises(build.BuildError, match=r"no wheel for c"):
        build.check_closure(tmp_path, ["a"], build.TARGETS["linux"])


def test_closure_refuses_a_wrong_version_or_a_foreign_wheel(
    build: ModuleType, tmp_path: Path
) -> None:
    mac = build.TARGETS["macos"]
    make_wheel(tmp_path, "a-1.0-py3-none-any.whl", ["b>=2"], {})
    make_wheel(tmp_path, "b-1.5-py3-none-any.whl", [], {})
    with pytest.raises(build.BuildError, match=r"b-1.5-py3-none-any.whl does not satisfy b>=2"):
        build.check_closure(tmp_path, ["a"], mac)
    (tmp_path / "b-1.5-py3-none-any.whl").unlink()
    make_wheel(tmp_path, "b-2.0-cp311-cp311-manylinux_2_17_x86_64.whl", [], {})
    with pytest.raises(build.BuildError, match=r"does not run on macos-arm64"):
        build.check_closure(tmp_path, ["a"], mac)


def test_install_wheel_places_purelib_and_platlib_and_skips_scripts(
    build: ModuleType, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path, "a-1.0-py3-none-any.whl", [], {
        "a/__init__.py": "A = 1\n",
        "a-1.0.data/platlib/a_ext.py": "EXT = 1\n",
        "a-1.0.data/purelib/a_pure/__init__.py": "",
        "a-1.0.data/scripts/a-cli": "#!python\n",
        "a-1.0.data/headers/a.h": "",
    })  # fmt: skip
    site = tmp_path / "site"
    build.install_wheel(wheel, site)
    files = sorted(str(p.relative_to(site)) for p in site.rglob("*") if p.is_file())
    assert files == [
        "a-1.0.dist-info/METADATA", "a/__init__.py", "a_ext.py", "a_pure/__init__.py",
    ]  # fmt: skip


def test_install_wheel_refuses_paths_outside_the_site(build: ModuleType, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "a-1.0-py3-none-any.whl", [], {"../evil.py": ""})
    with pytest.raises(build.BuildError, match="unsafe path"):
        build.install_wheel(wheel, tmp_path / "site")
    assert not (tmp_path / "evil.py").exists()


def test_unknown_platform_is_refused(build: ModuleType, tmp_path: Path) -> None:
    assert build.main(["--platform", "windows", "--out", str(tmp_path)]) == 1
    assert list(tmp_path.iterdir()) == []
