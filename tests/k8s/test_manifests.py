"""The rendered k8s/ overlays: hardened workloads, probes, scaling, policies, config and secrets.

`make k8s-validate` checks every overlay against the Kubernetes schemas; these tests check what a
schema cannot: that the manifests say what the services need and nothing they would refuse.
"""

from __future__ import annotations

import base64
import binascii
import copy
import importlib
import re
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from cocore.errors import CocoreError
from cocore.storage.migrate import SERVICES as MIGRATE_TARGETS
from tests.k8s.manifests import (
    OVERLAYS,
    PLACEHOLDER,
    SERVICES,
    container_env,
    containers,
    data_of,
    generated,
    named,
    of_kind,
    pod_labels,
    pod_spec,
    render,
    service_of_image,
    workloads,
)

HPA_TARGETS = {"gateway", "appview", "matchmaker"}


@pytest.fixture(params=OVERLAYS)
def docs(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(request.param)


# ------------------------------------------------------------------ hardening


def test_every_workload_runs_non_root_read_only_with_no_capabilities(
    docs: list[dict[str, Any]],
) -> None:
    assert list(workloads(docs))
    for workload in workloads(docs):
        where = f"{workload['kind']}/{workload['metadata']['name']}"
        spec = pod_spec(workload)
        assert spec["automountServiceAccountToken"] is False, where
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        for container in containers(workload):
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True, where
            assert isinstance(context["runAsUser"], int) and context["runAsUser"] > 0, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, where


def test_every_container_has_requests_within_limits(docs: list[dict[str, Any]]) -> None:
    for workload in workloads(docs):
        for container in containers(workload):
            where = f"{workload['metadata']['name']}/{container['name']}"
            resources = container["resources"]
            for resource in ("cpu", "memory"):
                request = _quantity(resources["requests"][resource])
                limit = _quantity(resources["limits"][resource])
                assert 0 < request <= limit, f"{where}: {resource} {request} > {limit}"


def test_python_containers_get_a_writable_tmp(docs: list[dict[str, Any]]) -> None:
    for workload in workloads(docs):
        volumes = {v["name"]: v for v in pod_spec(workload).get("volumes", [])}
        for container in containers(workload):
            if service_of_image(container["image"]) is None:
                continue
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            assert "/tmp" in mounts, f"{workload['metadata']['name']}/{container['name']}"
            assert "emptyDir" in volumes[mounts["/tmp"]]


def _quantity(text: str | int) -> float:
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "": 1}
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(text))
    assert match, text
    return float(match.group(1)) * units[match.group(2)]


# ------------------------------------------------------------------ probes, scaling, budgets


def test_service_deployments_have_native_grpc_probes_on_their_grpc_port(
    docs: list[dict[str, Any]],
) -> None:
    seen = set()
    for deployment in of_kind(docs, "Deployment"):
        container = pod_spec(deployment)["containers"][0]
        service = service_of_image(container["image"])
        if service is None:
            continue
        seen.add(service)
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        env = container_env(docs, container)
        prefix = _config_module(service).PREFIX
        assert int(env[prefix + "GRPC_PORT"]) == ports["grpc"]  # the port the server binds
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container[probe]["grpc"] == {"port": ports["grpc"]}, (service, probe)
    assert seen == set(SERVICES)


def test_the_edge_is_probed_on_its_listener(docs: list[dict[str, Any]]) -> None:
    container = pod_spec(named(docs, "Deployment", "edge"))["containers"][0]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["tcpSocket"] == {"port": 8080}


def test_autoscalers_for_gateway_appview_and_matchmaker(docs: list[dict[str, Any]]) -> None:
    hpas = {h["metadata"]["name"]: h for h in of_kind(docs, "HorizontalPodAutoscaler")}
    assert set(hpas) == HPA_TARGETS
    for name, hpa in hpas.items():
        assert hpa["apiVersion"] == "autoscaling/v2"
        target = hpa["spec"]["scaleTargetRef"]
        deployment = named(docs, "Deployment", target["name"])
        assert target["kind"] == "Deployment" and target["name"] == name
        assert "replicas" not in deployment["spec"], f"{name}: the HPA owns the replica count"
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"


def test_production_keeps_two_replicas_of_what_scales() -> None:
    prod = render("prod")
    for hpa in of_kind(prod, "HorizontalPodAutoscaler"):
        assert hpa["spec"]["minReplicas"] >= 2
    assert named(prod, "Deployment", "edge")["spec"]["replicas"] >= 2
    # The exchange is one writer, never two during a rollout.
    exchange = named(prod, "Deployment", "exchange")["spec"]
    assert exchange["replicas"] == 1 and exchange["strategy"] == {"type": "Recreate"}


def test_every_deployment_has_one_disruption_budget(docs: list[dict[str, Any]]) -> None:
    budgets = of_kind(docs, "PodDisruptionBudget")
    for deployment in of_kind(docs, "Deployment"):
        mine = [b for b in budgets if _selects(b["spec"]["selector"], pod_labels(deployment))]
        assert len(mine) == 1, deployment["metadata"]["name"]
        # maxUnavailable, never minAvailable: a one-replica budget must not block node drains.
        assert mine[0]["spec"]["maxUnavailable"] == 1


# ------------------------------------------------------------------ services and references


def test_services_select_pods_and_name_their_ports(docs: list[dict[str, Any]]) -> None:
    pods = list(workloads(docs))
    for service in of_kind(docs, "Service"):
        selected = [w for w in pods if _selects({"matchLabels": service["spec"]["selector"]},
                                                pod_labels(w))]  # fmt: skip
        assert selected, service["metadata"]["name"]
        for workload in selected:
            ports = {p["name"] for c in containers(workload) for p in c.get("ports", [])}
            for port in service["spec"]["ports"]:
                assert port["targetPort"] in ports, (service["metadata"]["name"], port)


def test_only_the_edge_and_the_providers_entry_are_reachable_from_outside() -> None:
    public = {s["metadata"]["name"] for s in of_kind(render("prod"), "Service")
              if s["spec"].get("type") in ("LoadBalancer", "NodePort")}  # fmt: skip
    assert public == {"edge", "matchmaker-providers"}
    assert not any(s["spec"].get("type") for s in of_kind(render("dev"), "Service")
                   if s["spec"].get("type") != "ClusterIP")  # fmt: skip


def test_every_reference_resolves(docs: list[dict[str, Any]]) -> None:
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for workload in workloads(docs):
        claims = {t["metadata"]["name"] for t in workload["spec"].get("volumeClaimTemplates", [])}
        for volume in pod_spec(workload).get("volumes", []):
            if "configMap" in volume:
                assert ("ConfigMap", volume["configMap"]["name"]) in names
            if "secret" in volume:
                assert ("Secret", volume["secret"]["secretName"]) in names
            if "persistentVolumeClaim" in volume:
                claim = volume["persistentVolumeClaim"]["claimName"]
                assert ("PersistentVolumeClaim", claim) in names
        for container in containers(workload):
            container_env(docs, container)  # every envFrom and key reference must resolve
            mounts = {m["name"] for m in container.get("volumeMounts", [])}
            volumes = {v["name"] for v in pod_spec(workload).get("volumes", [])}
            assert mounts <= volumes | claims, workload["metadata"]["name"]


# ------------------------------------------------------------------ network policies


OUTSIDE = "(outside)"
MONITORING = "(monitoring)"


@dataclass(frozen=True)
class Peer:
    name: str
    labels: Mapping[str, str] | None  # None: outside the cluster
    namespace: Mapping[str, str] = field(default_factory=dict)


def test_network_policies_admit_exactly_the_documented_calls(docs: list[dict[str, Any]]) -> None:
    (own,) = of_kind(docs, "Namespace")
    namespace = {"kubernetes.io/metadata.name": own["metadata"]["name"]}
    policies = of_kind(docs, "NetworkPolicy")
    pods = {w["metadata"]["name"]: pod_labels(w) for w in workloads(docs)}
    monitoring = {"kubernetes.io/metadata.name": "monitoring"}
    sources = [Peer(OUTSIDE, None), Peer(MONITORING, {"app": "prometheus"}, monitoring)]
    sources += [Peer(name, labels, namespace) for name, labels in pods.items()]
    allowed = set()
    for workload in workloads(docs):
        destination = workload["metadata"]["name"]
        ports = {p["containerPort"] for p in pod_spec(workload)["containers"][0].get("ports", [])}
        for source in sources:
            for port in ports:
                if _admits(policies, namespace, source, pod_labels(workload), port):
                    allowed.add((source.name, destination, port))
    assert allowed == _documented_calls(set(pods))


def test_ingress_is_denied_by_default(docs: list[dict[str, Any]]) -> None:
    deny = named(docs, "NetworkPolicy", "default-deny-ingress")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress"]}


def _documented_calls(pods: set[str]) -> set[tuple[str, str, int]]:
    """k8s/base/network-policies.yaml's header, as (source, destination, port)."""
    appview = {"appview", "appview-indexer"}
    services = appview | {"exchange", "gateway", "matchmaker"}
    calls = {(source, "edge", 8080) for source in pods | {OUTSIDE, MONITORING}}
    calls |= {(OUTSIDE, "matchmaker", 50051), ("matchmaker", "matchmaker", 50051)}
    calls |= {("edge", "gateway", 8080), ("edge", "gateway", 50051)}
    calls |= {("gateway", "exchange", 50051), ("gateway", "matchmaker", 50051)}
    calls |= {(src, dst, port) for src in ("gateway", "exchange") for dst in appview
              for port in (50051, 8080)}  # fmt: skip
    calls |= {(MONITORING, name, 9090) for name in services}
    if "postgres" in pods:  # dev: the services, their Jobs and init containers
        clients = services | {f"migrate-{s}" for s in SERVICES}
        calls |= {(name, "postgres", 5432) for name in clients}
    return calls


def _admits(policies: list[dict[str, Any]], namespace: Mapping[str, str], source: Peer,
            destination: Mapping[str, str], port: int) -> bool:  # fmt: skip
    applicable = [p["spec"] for p in policies
                  if "Ingress" in p["spec"]["policyTypes"]
                  and _selects(p["spec"]["podSelector"], destination)]  # fmt: skip
    if not applicable:
        return True
    for spec in applicable:
        for rule in spec.get("ingress", []):
            if "ports" in rule and port not in {p["port"] for p in rule["ports"]}:
                continue
            if "from" not in rule or any(_peer(f, source, namespace) for f in rule["from"]):
                return True
    return False


def _peer(rule: Mapping[str, Any], source: Peer, namespace: Mapping[str, str]) -> bool:
    if "ipBlock" in rule:  # (how ipBlocks treat pod IPs differs by plugin: assume they don't)
        return source.labels is None
    if source.labels is None:
        return False
    if "namespaceSelector" in rule:
        in_namespace = _selects(rule["namespaceSelector"], source.namespace)
    else:
        in_namespace = source.namespace == namespace
    return in_namespace and _selects(rule.get("podSelector", {}), source.labels)


def _selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        value, operator = labels.get(expression["key"]), expression["operator"]
        if operator == "In" and value not in expression["values"]:
            return False
        if operator == "NotIn" and value in expression["values"]:
            return False
        if operator == "Exists" and value is None:
            return False
        if operator == "DoesNotExist" and value is not None:
            return False
    return True


# ------------------------------------------------------------------ configuration and secrets


class Recording(Mapping[str, str]):
    """An environment that remembers which variables a config's `from_env` looked up."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return self._values[key]

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.read.add(key)
        return key in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def _config_module(service: str) -> Any:
    return importlib.import_module(f"services.{service}.config")


def _load_config(service: str, env: Mapping[str, str]) -> tuple[set[str], CocoreError | None]:
    config_class = getattr(_config_module(service), MIGRATE_TARGETS[service].config_class)
    recording = Recording(env)
    try:
        config_class.from_env(recording)
    except CocoreError as e:
        return recording.read, e
    return recording.read, None


def _service_containers(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for deployment in of_kind(docs, "Deployment"):
        container = pod_spec(deployment)["containers"][0]
        service = service_of_image(container["image"])
        if service is not None:
            yield service, container


def test_every_cocore_variable_set_is_one_the_service_reads(docs: list[dict[str, Any]]) -> None:
    for service, container in _service_containers(docs):
        env = container_env(docs, container)
        read, _ = _load_config(service, env)
        prefix = _config_module(service).PREFIX
        ours = {name for name in env if name.startswith("COCORE_")}
        assert all(name.startswith(prefix) for name in ours), service
        assert ours - read == set(), f"{service} never reads {sorted(ours - read)}"


def test_config_maps_hold_no_secret_settings(docs: list[dict[str, Any]]) -> None:
    secret_words = ("TOKEN", "PASSWORD", "SECRET", "CREDENTIALS_KEY", "DB_URL", "DATABASE_URL")
    for config_map in of_kind(docs, "ConfigMap"):
        for key in data_of(config_map):
            assert not any(word in key for word in secret_words), key


def test_dev_starts_with_its_settings_and_prod_refuses_the_placeholders() -> None:
    for service, container in _service_containers(render("dev")):
        _, error = _load_config(service, container_env(render("dev"), container))
        assert error is None, f"dev {service}: {error}"
    for service, container in _service_containers(render("prod")):
        env = container_env(render("prod"), container)
        assert PLACEHOLDER in "".join(env.values())
        _, error = _load_config(service, env)
        assert error is not None, f"prod {service} would start with REPLACE_ME secrets"


@pytest.mark.parametrize("target", ["base", "prod"])
def test_base_and_prod_ship_only_placeholder_secrets(target: str) -> None:
    secrets = of_kind(render(target), "Secret")
    assert secrets
    for secret in secrets:
        for key, value in data_of(secret).items():
            assert value == PLACEHOLDER, f"{secret['metadata']['name']}/{key} is not a placeholder"


def test_dev_secrets_are_the_services_own_dev_placeholders() -> None:
    for secret in of_kind(render("dev"), "Secret"):
        for key, value in data_of(secret).items():
            try:  # the gateway's credentials key is base64 of its dev placeholder
                decoded = base64.b64decode(value, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            assert "not-secret" in value + decoded, f"{secret['metadata']['name']}/{key}"


def test_dev_exchange_keeps_its_keys_on_a_volume_and_prod_mounts_them_from_a_secret() -> None:
    dev = render("dev")
    keys = {v["name"]: v for v in pod_spec(named(dev, "Deployment", "exchange"))["volumes"]}
    assert keys["keys"] == {"name": "keys", "persistentVolumeClaim": {"claimName": "exchange-keys"}}
    assert not [s for s in of_kind(dev, "Secret") if "exchange-keys" in s["metadata"]["name"]]
    prod = render("prod")
    secret = generated(prod, "Secret", "exchange-keys")
    assert set(data_of(secret)) == {"settlement-key.pem", "plc-rotation-key.pem"}
    env = container_env(prod, pod_spec(named(prod, "Deployment", "exchange"))["containers"][0])
    assert env["COCORE_EXCHANGE_SIGNING_KEY_PEM"] == (
        env["COCORE_EXCHANGE_KEY_DIR"] + "/settlement-key.pem"
    )


# ------------------------------------------------------------------ matchmaker replicas


def test_matchmaker_replicas_advertise_their_pod_ip_behind_a_headless_service(
    docs: list[dict[str, Any]],
) -> None:
    deployment = named(docs, "Deployment", "matchmaker")
    container = pod_spec(deployment)["containers"][0]
    env = container_env(docs, container)
    grpc = {p["name"]: p["containerPort"] for p in container["ports"]}["grpc"]
    assert env["COCORE_MATCHMAKER_ADVERTISE_ADDRESS"] == f"10.1.2.3:{grpc}"  # the pod IP
    assert env["COCORE_MATCHMAKER_REPLICA_ID"] == "matchmaker-7d9f-abcde"  # the pod name
    peers = named(docs, "Service", "matchmaker-peers")["spec"]
    assert peers["clusterIP"] == "None"
    assert _selects({"matchLabels": peers["selector"]}, pod_labels(deployment))
    # Every replica presents the same service token to its peers as the gateway does.
    gateway = pod_spec(named(docs, "Deployment", "gateway"))["containers"][0]
    assert (container_env(docs, gateway)["COCORE_GATEWAY_MATCHMAKER_TOKEN"]
            == env["COCORE_MATCHMAKER_SERVICE_TOKEN"])  # fmt: skip


def test_gateway_and_exchange_share_one_service_token(docs: list[dict[str, Any]]) -> None:
    gateway = pod_spec(named(docs, "Deployment", "gateway"))["containers"][0]
    exchange = pod_spec(named(docs, "Deployment", "exchange"))["containers"][0]
    token = container_env(docs, gateway)["COCORE_GATEWAY_EXCHANGE_TOKEN"]
    assert container_env(docs, exchange)["COCORE_EXCHANGE_SERVICE_TOKENS"] == f"gateway:{token}"


# ------------------------------------------------------------------ migrations


def test_one_migration_job_per_database_and_services_wait_for_it(
    docs: list[dict[str, Any]],
) -> None:
    jobs = {j["metadata"]["name"]: j for j in of_kind(docs, "Job")}
    assert set(jobs) == {f"migrate-{s}" for s in SERVICES}
    for service in SERVICES:
        variable = _config_module(service).PREFIX + MIGRATE_TARGETS[service].url_field.upper()
        (job,) = pod_spec(jobs[f"migrate-{service}"])["containers"]
        assert job["command"] == ["python", "-m", "cocore.storage.migrate", service]
        assert set(container_env(docs, job)) == {variable}  # the URL and nothing else
        assert service_of_image(job["image"]) == service
    for deployment in of_kind(docs, "Deployment"):
        deployed = service_of_image(pod_spec(deployment)["containers"][0]["image"])
        if deployed is None:
            continue
        (wait,) = pod_spec(deployment)["initContainers"]
        assert wait["command"][:4] == ["python", "-m", "cocore.storage.migrate", deployed]
        assert "--wait" in wait["command"]
        env = container_env(docs, pod_spec(deployment)["containers"][0])
        migrate = env.get(_config_module(deployed).PREFIX + "MIGRATE")
        assert migrate in (None, "0"), f"{deployed} must leave migrating to its Job"


# ------------------------------------------------------------------ images


def test_images_are_dev_in_base_and_pinned_in_prod() -> None:
    def images(target: str) -> set[str]:
        return {c["image"] for w in workloads(render(target)) for c in containers(w)}

    for image in images("base"):
        service = service_of_image(image)
        if service is not None:
            assert image == f"cocore/{service}:dev"
    for image in images("prod") | images("dev"):
        name, _, tag = image.rpartition(":")
        assert name and tag not in ("", "latest"), image
        if service_of_image(image) is None:  # upstream images: a release, never a moving tag
            assert re.search(r"\d+\.\d+", tag), image
    assert all(not i.endswith(":dev") for i in images("prod"))


# ------------------------------------------------------------------ schema validation


def test_prod_validates_strictly_without_touching_the_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("kubernetes-validate tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    for doc in render("prod"):
        kubernetes_validate.validate(doc, "1.32.0", strict=True)


def test_strict_validation_rejects_an_unknown_field() -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    deployment = copy.deepcopy(named(render("prod"), "Deployment", "gateway"))
    pod_spec(deployment)["containers"][0]["readinessProbe"]["grpcc"] = {"port": 50051}
    with pytest.raises(kubernetes_validate.ValidationError, match="grpcc"):
        kubernetes_validate.validate(deployment, "1.32.0", strict=True)
