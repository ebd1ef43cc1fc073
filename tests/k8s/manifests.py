"""Rendered k8s/ overlays as plain dicts, and the small queries the k8s tests ask of them."""

from __future__ import annotations

import base64
import functools
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import yaml

from tests.conftest import REPO

K8S = REPO / "k8s"
OVERLAYS = ("dev", "prod")
SERVICES = ("appview", "exchange", "gateway", "matchmaker")  # the images built here
WORKLOADS = ("Deployment", "StatefulSet", "Job")
PLACEHOLDER = "REPLACE_ME"


def kubectl() -> str:
    found = shutil.which("kubectl")
    if found is None:
        pytest.skip("kubectl is not installed: cannot render the kustomize overlays")
    return found


@functools.cache
def _render(path: str) -> tuple[dict[str, Any], ...]:
    done = subprocess.run(
        [kubectl(), "kustomize", path], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"kubectl kustomize {path} failed:\n{done.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def render(target: str) -> list[dict[str, Any]]:
    """`base`, `dev` or `prod`, rendered by `kubectl kustomize` (cached per session)."""
    path = K8S / ("base" if target == "base" else f"overlays/{target}")
    return list(_render(str(path)))


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def named(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in of_kind(docs, kind) if d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def generated(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """A ConfigMap or Secret by the name it had before kustomize added its hash suffix."""
    pattern = re.compile(rf"^{re.escape(name)}(-[a-z0-9]{{10}})?$")
    found = [d for d in of_kind(docs, kind) if pattern.match(d["metadata"]["name"])]
    assert len(found) == 1, f"expected one {kind} generated from {name}, found {len(found)}"
    return found[0]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = workload["spec"]["template"]["metadata"]["labels"]
    return labels


def containers(workload: dict[str, Any]) -> Iterator[dict[str, Any]]:
    spec = pod_spec(workload)
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def workloads(docs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for doc in docs:
        if doc["kind"] in WORKLOADS:
            yield doc


def service_of_image(image: str) -> str | None:
    """`exchange` for `cocore/exchange:dev` or `registry.example.com/cocore/exchange:0.1.0`."""
    match = re.match(r"^(?:.*/)?cocore/([a-z]+):[\w.-]+$", image)
    return match.group(1) if match else None


def data_of(doc: dict[str, Any]) -> dict[str, str]:
    """A ConfigMap's data, or a Secret's data decoded."""
    if doc["kind"] == "Secret":
        return {k: base64.b64decode(v).decode() for k, v in (doc.get("data") or {}).items()}
    return dict(doc.get("data") or {})


FIELD_VALUES = {"status.podIP": "10.1.2.3", "metadata.name": "matchmaker-7d9f-abcde"}


def container_env(docs: list[dict[str, Any]], container: dict[str, Any]) -> dict[str, str]:
    """The environment the container starts with: envFrom, then env with $(VAR) expansion."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        kind, ref = (
            ("ConfigMap", source["configMapRef"])
            if "configMapRef" in source
            else ("Secret", source["secretRef"])
        )
        env.update(data_of(named(docs, kind, ref["name"])))
    for item in container.get("env", []):
        env[item["name"]] = _value(docs, item, env)
    return env


def _value(docs: list[dict[str, Any]], item: dict[str, Any], env: Mapping[str, str]) -> str:
    if "value" in item:
        return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env[m.group(1)], item["value"])
    source = item["valueFrom"]
    if "secretKeyRef" in source or "configMapKeyRef" in source:
        kind = "Secret" if "secretKeyRef" in source else "ConfigMap"
        ref = source["secretKeyRef" if kind == "Secret" else "configMapKeyRef"]
        return data_of(named(docs, kind, ref["name"]))[ref["key"]]
    return FIELD_VALUES[source["fieldRef"]["fieldPath"]]
