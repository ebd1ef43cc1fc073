"""services/*/Dockerfile, read statically (no Docker engine runs here) against the manifests.

Each Dockerfile must exist for every image the manifests run, pin its base, run as the numeric
user the manifests demand, copy only what exists and reaches the build context, and start the
service's module; the slim image leaves mlx-lm out, so the services must not import it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO
from tests.k8s.manifests import (
    OVERLAYS,
    SERVICES,
    containers,
    of_kind,
    pod_spec,
    render,
    service_of_image,
    workloads,
)

PINNED_PYTHON = re.compile(r"^python:3\.11\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?$")
LEFT_OUT = {"mlx-lm"}  # the provider's engine: it runs on members' Macs, never in these images


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str


@cache
def parse(service: str) -> tuple[Instruction, ...]:
    """The Dockerfile's instructions, continuation lines joined and comments dropped."""
    text = (REPO / "services" / service / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    out = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, args = line.strip().partition(" ")
            out.append(Instruction(keyword.upper(), args.strip()))
    return tuple(out)


def final_stage(service: str) -> list[Instruction]:
    instructions = list(parse(service))
    last_from = max(i for i, ins in enumerate(instructions) if ins.keyword == "FROM")
    return instructions[last_from:]


def images_in_manifests() -> dict[str, list[tuple[dict[str, Any], dict[str, Any]]]]:
    """service → [(workload, container)] for every cocore image in every overlay."""
    found: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for overlay in OVERLAYS:
        for workload in workloads(render(overlay)):
            for container in containers(workload):
                service = service_of_image(container["image"])
                if service is not None:
                    found.setdefault(service, []).append((workload, container))
    return found


def test_a_dockerfile_for_every_image_the_manifests_run_and_no_other() -> None:
    built = {p.parent.name for p in (REPO / "services").glob("*/Dockerfile")}
    assert set(images_in_manifests()) == built == set(SERVICES)
    assert not (REPO / "services" / "provider" / "Dockerfile").exists()  # it runs on Macs


@pytest.mark.parametrize("service", SERVICES)
def test_every_stage_starts_from_a_pinned_slim_python(service: str) -> None:
    stages = [i.args.split()[0] for i in parse(service) if i.keyword == "FROM"]
    assert len(stages) >= 2, "a build stage and a slim runtime stage"
    assert len(set(stages)) == 1, "build and runtime must share one base (the venv moves over)"
    assert PINNED_PYTHON.match(stages[0]), f"{stages[0]} is not pinned to a 3.11 patch release"


@pytest.mark.parametrize("service", SERVICES)
def test_runs_as_the_numeric_user_of_the_manifests(service: str) -> None:
    users = [i.args for i in final_stage(service) if i.keyword == "USER"]
    assert len(users) == 1 and re.fullmatch(r"\d+:\d+", users[0]), users
    uid, gid = (int(x) for x in users[0].split(":"))
    assert f"--uid {uid} --gid {gid}" in " ".join(i.args for i in final_stage(service))
    for workload, container in images_in_manifests()[service]:
        context = {**pod_spec(workload)["securityContext"], **container["securityContext"]}
        where = workload["metadata"]["name"]
        assert (context["runAsUser"], context["runAsGroup"]) == (uid, gid), where


@pytest.mark.parametrize("service", SERVICES)
def test_copies_only_what_exists_and_reaches_the_build_context(service: str) -> None:
    patterns = _dockerignore()
    copies = [i.args.split() for i in parse(service) if i.keyword == "COPY"]
    local = [args for args in copies if not args[0].startswith("--from=")]
    assert local
    for args in local:
        for source in args[:-1]:
            assert (REPO / source).exists(), f"COPY {source}: not in the repository"
            assert not _ignored(source, patterns), f"COPY {source}: excluded by .dockerignore"
    for needed in ("libs/cocore/__init__.py", f"services/{service}/migrations/env.py",
                   "lexicons/dev/cocore/compute/receipt.json"):  # fmt: skip
        assert (REPO / needed).exists() and not _ignored(needed, patterns), needed
    kept_out = ["var/models", ".venv/bin/python", ".git/config", "tests/conftest.py",
                "services/exchange/__pycache__/x.pyc", "k8s/base/kustomization.yaml"]  # fmt: skip
    for path in kept_out:
        assert _ignored(path, patterns), path


@pytest.mark.parametrize("service", SERVICES)
def test_installs_the_lock_and_starts_the_service_module(service: str) -> None:
    runs = " ".join(i.args for i in parse(service) if i.keyword == "RUN")
    assert "-c requirements.lock" in runs or "-r requirements.lock" in runs
    (entrypoint,) = [i.args for i in final_stage(service) if i.keyword == "ENTRYPOINT"]
    assert json.loads(entrypoint) == ["python", "-m", f"services.{service}"]
    assert (REPO / "services" / service / "__main__.py").exists()


@pytest.mark.parametrize("service", SERVICES)
def test_exposes_the_ports_the_manifests_use(service: str) -> None:
    exposed = {int(p) for i in final_stage(service) if i.keyword == "EXPOSE"
               for p in i.args.split()}  # fmt: skip
    for overlay in OVERLAYS:
        for deployment in of_kind(render(overlay), "Deployment"):
            container = pod_spec(deployment)["containers"][0]
            if service_of_image(container["image"]) == service:
                assert {p["containerPort"] for p in container["ports"]} == exposed


def test_the_services_import_nothing_the_slim_images_leave_out() -> None:
    """The images hold the runtime dependencies minus mlx-lm: import the services with every
    other installed package (dev tools, the provider's engine) made unimportable."""
    runtime = _closure(_runtime_requirements()) | {"cocore"}
    absent = sorted(
        top for top, dists in metadata.packages_distributions().items()
        if not {canonicalize_name(d) for d in dists} & runtime
    )  # fmt: skip
    assert "mlx_lm" in absent and "pytest" in absent
    modules = [f"services.{s}.{m}" for s in SERVICES for m in ("__main__", "server", "config")]
    probe = (
        "import importlib, sys\n"
        f"absent = set({absent!r})\n"
        "class NotInImage:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in absent:\n"
        "            raise ModuleNotFoundError(name + ' is not in the server images', name=name)\n"
        "sys.meta_path.insert(0, NotInImage())\n"
        f"for m in {[*modules, 'cocore.storage.migrate']!r}: importlib.import_module(m)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=180, check=False, cwd=REPO)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]


def _runtime_requirements() -> list[str]:
    """What the Dockerfiles install: the project's dependencies without LEFT_OUT."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return [r for r in project["dependencies"] if canonicalize_name(Requirement(r).name)
            not in LEFT_OUT]  # fmt: skip


def _closure(requirements: list[str]) -> set[str]:
    seen: set[tuple[str, frozenset[str]]] = set()
    names: set[str] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        key = (canonicalize_name(req.name), frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        names.add(key[0])
        for text in metadata.distribution(req.name).requires or []:
            dep = Requirement(text)
            extras = [*req.extras, ""]
            if dep.marker is None or any(dep.marker.evaluate({"extra": e}) for e in extras):
                todo.append(dep)
    return names


def _dockerignore() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path, or one of its parents, decides."""
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    excluded = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        regex = _glob(pattern.lstrip("!"))
        if any(regex.fullmatch(p) for p in prefixes):
            excluded = not negated
    return excluded


def _glob(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)
