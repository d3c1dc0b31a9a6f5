"""The Kubernetes manifests under deploy/k8s, rendered offline and validated.

No kustomize binary is available from the registries this project uses (PyPI's ``pykustomize`` needs
Python 3.14), so :func:`render` implements exactly the kustomize features the manifests use —
``resources`` (files and directories), ``namespace``, ``images`` and ``patches`` (strategic merge by
file) — and refuses any other field, so a new feature cannot slip in untested. Built-in kinds are
validated against the Kubernetes JSON Schemas bundled by ``kubernetes-validate`` (strict: unknown
fields fail); the CRDs (ServiceMonitor, PrometheusRule, ScaledObject, TriggerAuthentication) against
the shapes below, which cover the fields these manifests use.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from services.common.config import SETTINGS_HELP, Settings
from services.common.pipeline import STAGES
from services.common.topics import CLEAN_ARTICLES, ENRICHED_ARTICLES, RAW_DOCUMENTS, consumer_group

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.31"
SUPPORTED_FIELDS = {"apiVersion", "kind", "resources", "namespace", "images", "patches"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}
INPUT_TOPIC = {"ingest": RAW_DOCUMENTS, "entities": CLEAN_ARTICLES, "events": ENRICHED_ARTICLES}
SETTING_VARS = {var for var, *_ in SETTINGS_HELP}
KAFKA_SECURITY = {"KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_MECHANISM", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD",
                  "KAFKA_SSL_CAFILE"}
SECRETS = {"marsad-kafka", "marsad-redis"}


# -- a minimal kustomize ---------------------------------------------------------------------------

def strategic_merge(base: Any, patch: Any) -> Any:
    """Maps merge key by key (null deletes); lists of named maps merge by name; other lists are replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = strategic_merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    named = (isinstance(base, list) and isinstance(patch, list)
             and all(isinstance(i, dict) and "name" in i for i in [*base, *patch]))
    if named:
        merged_list = [copy.deepcopy(i) for i in base]
        for item in patch:
            index = next((n for n, b in enumerate(merged_list) if b["name"] == item["name"]), None)
            if index is None:
                merged_list.append(copy.deepcopy(item))
            else:
                merged_list[index] = strategic_merge(merged_list[index], item)
        return merged_list
    return copy.deepcopy(patch)


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    pod = obj.get("spec", {}).get("template", {}).get("spec", {})
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


def render(directory: Path) -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unsupported = set(kustomization) - SUPPORTED_FIELDS
    assert not unsupported, f"{directory}: kustomize fields this renderer does not implement: {unsupported}"
    objects: list[dict[str, Any]] = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        if path.is_dir():
            objects.extend(render(path))
        else:
            objects.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    for patch_entry in kustomization.get("patches", []):
        assert set(patch_entry) == {"path"}, f"only file patches are implemented: {patch_entry}"
        for patch in yaml.safe_load_all((directory / patch_entry["path"]).read_text()):
            matches = [i for i, o in enumerate(objects)
                       if (o["kind"], o["metadata"]["name"]) == (patch["kind"], patch["metadata"]["name"])]
            assert len(matches) == 1, f"patch {patch_entry['path']} matches {len(matches)} objects"
            objects[matches[0]] = strategic_merge(objects[matches[0]], patch)
    for image in kustomization.get("images", []):
        for obj in objects:
            for container in _containers(obj):
                name = re.split(r"[:@]", container["image"])[0]
                if name == image["name"]:
                    container["image"] = f"{image.get('newName', name)}:{image['newTag']}"
    if "namespace" in kustomization:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED:
                obj["metadata"]["namespace"] = kustomization["namespace"]
    return objects


# -- shapes of the custom resources ----------------------------------------------------------------

_METADATA = {"type": "object", "required": ["name"],
             "properties": {"name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
                            "namespace": {"type": "string"}, "labels": {"type": "object",
                                                                        "additionalProperties": {"type": "string"}}}}
_DURATION = {"type": "string", "pattern": "^([0-9]+(ms|s|m|h|d|w|y))+$"}
_SELECTOR = {"type": "object", "properties": {"matchLabels": {"type": "object", "minProperties": 1,
                                                               "additionalProperties": {"type": "string"}}},
             "required": ["matchLabels"]}


def _crd(spec: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": ["apiVersion", "kind", "metadata", "spec"], "additionalProperties": False,
            "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": _METADATA,
                           "spec": spec}}


CRD_SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): _crd({
        "type": "object", "required": ["selector", "endpoints"], "additionalProperties": False,
        "properties": {
            "jobLabel": {"type": "string"}, "selector": _SELECTOR,
            "endpoints": {"type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["port"], "additionalProperties": False,
                "properties": {"port": {"type": "string"}, "path": {"type": "string", "pattern": "^/"},
                               "interval": _DURATION, "scrapeTimeout": _DURATION,
                               "relabelings": {"type": "array", "items": {
                                   "type": "object", "additionalProperties": False,
                                   "properties": {"sourceLabels": {"type": "array", "items": {"type": "string"}},
                                                  "targetLabel": {"type": "string"},
                                                  "action": {"type": "string"}, "regex": {"type": "string"},
                                                  "replacement": {"type": "string"}}}}}}}}}),
    ("monitoring.coreos.com/v1", "PrometheusRule"): _crd({
        "type": "object", "required": ["groups"], "additionalProperties": False,
        "properties": {"groups": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["name", "rules"],
            "properties": {"name": {"type": "string"}, "interval": _DURATION, "rules": {"type": "array", "items": {
                "type": "object", "required": ["expr"], "additionalProperties": False,
                "oneOf": [{"required": ["alert"]}, {"required": ["record"]}],
                "properties": {"alert": {"type": "string"}, "record": {"type": "string"},
                               "expr": {"type": "string"}, "for": _DURATION,
                               "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                               "annotations": {"type": "object",
                                               "additionalProperties": {"type": "string"}}}}}}}}}}),
    ("keda.sh/v1alpha1", "ScaledObject"): _crd({
        "type": "object", "required": ["scaleTargetRef", "triggers"], "additionalProperties": False,
        "properties": {
            "scaleTargetRef": {"type": "object", "required": ["name"], "additionalProperties": False,
                               "properties": {"name": {"type": "string"}, "kind": {"type": "string"},
                                              "apiVersion": {"type": "string"}}},
            "minReplicaCount": {"type": "integer", "minimum": 0},
            "maxReplicaCount": {"type": "integer", "minimum": 1},
            "pollingInterval": {"type": "integer", "minimum": 1},
            "cooldownPeriod": {"type": "integer", "minimum": 0},
            "advanced": {"type": "object"},
            "triggers": {"type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["type", "metadata"], "additionalProperties": False,
                "properties": {
                    "type": {"type": "string"}, "name": {"type": "string"},
                    # KEDA's trigger metadata is map[string]string: a bare number fails at apply time.
                    "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
                    "authenticationRef": {"type": "object", "required": ["name"],
                                          "properties": {"name": {"type": "string"}}}}}}}}),
    ("keda.sh/v1alpha1", "TriggerAuthentication"): _crd({
        "type": "object", "additionalProperties": False,
        "properties": {"secretTargetRef": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["parameter", "name", "key"], "additionalProperties": False,
            "properties": {"parameter": {"type": "string"}, "name": {"type": "string"},
                           "key": {"type": "string"}}}}}}),
}

# The kafka scaler's trigger metadata and authentication parameters (KEDA docs, scalers/apache-kafka).
KAFKA_SCALER_METADATA = {"bootstrapServers", "consumerGroup", "topic", "lagThreshold", "activationLagThreshold",
                         "offsetResetPolicy", "allowIdleConsumers", "scaleToZeroOnInvalidOffset",
                         "excludePersistentLag", "limitToPartitionsWithLag", "version", "partitionLimitation"}
KAFKA_SCALER_AUTH = {"sasl", "username", "password", "tls", "ca", "cert", "key", "keyPassword"}


# -- fixtures and helpers --------------------------------------------------------------------------

@pytest.fixture(scope="module", params=["base", "overlays/production"])
def rendered(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(K8S / request.param)


@pytest.fixture(scope="module")
def production() -> list[dict[str, Any]]:
    return render(K8S / "overlays" / "production")


def _one(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} objects"
    return found[0]


def _settings_map(objects: list[dict[str, Any]]) -> dict[str, str]:
    return _one(objects, "ConfigMap", "marsad-settings")["data"]


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def _quantity(value: str | int | float) -> float:
    text = str(value)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 1e3, "M": 1e6, "G": 1e9}
    for suffix, factor in sorted(units.items(), key=lambda u: -len(u[0])):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


# -- tests -----------------------------------------------------------------------------------------

def test_renderer_merges_like_kustomize_for_the_fields_used() -> None:
    base = {"spec": {"replicas": 1, "template": {"spec": {"containers": [
        {"name": "worker", "image": "marsad", "resources": {"limits": {"cpu": "1"}}}]}}}}
    patch = {"spec": {"replicas": 3, "template": {"spec": {"containers": [
        {"name": "worker", "resources": {"requests": {"cpu": "1"}}}]}}}}
    merged = strategic_merge(base, patch)
    assert merged["spec"]["replicas"] == 3
    assert merged["spec"]["template"]["spec"]["containers"] == [
        {"name": "worker", "image": "marsad", "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "1"}}}]
    assert strategic_merge({"triggers": [{"type": "kafka", "a": 1}]}, {"triggers": [{"type": "kafka"}]}) == {
        "triggers": [{"type": "kafka"}]}, "unnamed lists are replaced, as kustomize does for custom resources"


def test_every_rendered_object_is_valid(rendered: list[dict[str, Any]]) -> None:
    assert rendered
    for obj in rendered:
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        key = (obj["apiVersion"], obj["kind"])
        if key in CRD_SCHEMAS:
            errors = list(jsonschema.Draft202012Validator(CRD_SCHEMAS[key]).iter_errors(obj))
            assert not errors, f"{where}: " + "; ".join(f"{e.json_path}: {e.message}" for e in errors)
        else:
            try:
                kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
            except kubernetes_validate.ValidationError as error:
                pytest.fail(f"{where}: {error.message} at {'/'.join(map(str, error.path))}")


def test_each_worker_has_deployment_service_monitor_pdb_and_autoscaler(rendered: list[dict[str, Any]]) -> None:
    settings = _settings_map(rendered)
    partitions = int(settings["MARSAD_PARTITIONS"])
    prefix = settings["MARSAD_TOPIC_PREFIX"]
    for stage in STAGES:
        name = f"marsad-{stage}"
        deployment = _one(rendered, "Deployment", name)
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
        assert pod_labels["app.kubernetes.io/part-of"] == "marsad", "the Prometheus pod discovery keeps these"
        container = _container(deployment)
        assert container["args"] == ["worker", stage]
        resources = container["resources"]
        for kind in ("cpu", "memory"):
            assert _quantity(resources["requests"][kind]) <= _quantity(resources["limits"][kind]), f"{name} {kind}"

        # Probes on the worker's own server: liveness /healthz, readiness /readyz, on the port it serves.
        env = {e["name"]: e.get("value") for e in container["env"]}
        port = int(env["MARSAD_METRICS_PORT"])
        assert port == Settings().worker_metrics_port(stage)
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports == {"metrics": port}
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"), ("startupProbe", "/healthz")):
            assert container[probe]["httpGet"]["path"] == path, f"{name} {probe}"
            assert container[probe]["httpGet"]["port"] in ("metrics", port), f"{name} {probe}"

        service = _one(rendered, "Service", name)
        assert service["spec"]["selector"].items() <= pod_labels.items()
        service_port = next(p for p in service["spec"]["ports"] if p["name"] == "metrics")
        assert service_port["targetPort"] in ("metrics", port) and service_port["port"] == port

        monitor = _one(rendered, "ServiceMonitor", name)
        assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
        assert [e["port"] for e in monitor["spec"]["endpoints"]] == ["metrics"]
        assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
        # job="marsad", as the alert rules and the dashboard expect.
        assert service["metadata"]["labels"][monitor["spec"]["jobLabel"]] == "marsad"

        pdb = _one(rendered, "PodDisruptionBudget", name)
        assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()

        scaled = _one(rendered, "ScaledObject", name)
        assert scaled["spec"]["scaleTargetRef"]["name"] == name
        assert scaled["spec"]["minReplicaCount"] == deployment["spec"]["replicas"]
        assert deployment["spec"]["replicas"] <= scaled["spec"]["maxReplicaCount"] <= partitions, \
            "more consumers than partitions would sit idle"
        [trigger] = scaled["spec"]["triggers"]
        assert trigger["type"] == "kafka"
        assert set(trigger["metadata"]) <= KAFKA_SCALER_METADATA
        # The lag KEDA reads must be the worker's: its faust consumer group and its input topic.
        assert trigger["metadata"]["consumerGroup"] == consumer_group(prefix, stage)
        assert trigger["metadata"]["topic"] == prefix + INPUT_TOPIC[stage].name
        assert trigger["metadata"]["bootstrapServers"] == settings["KAFKA_BOOTSTRAP_SERVERS"]
        auth = _one(rendered, "TriggerAuthentication", trigger["authenticationRef"]["name"])
        assert {r["parameter"] for r in auth["spec"]["secretTargetRef"]} <= KAFKA_SCALER_AUTH
        assert {r["name"] for r in auth["spec"]["secretTargetRef"]} <= SECRETS


def test_environment_is_settings_or_secret_references(rendered: list[dict[str, Any]]) -> None:
    settings = _settings_map(rendered)
    assert set(settings) <= SETTING_VARS, f"not settings: {set(settings) - SETTING_VARS}"
    Settings.from_env(settings)  # every value parses
    for stage in STAGES:
        deployment = _one(rendered, "Deployment", f"marsad-{stage}")
        container = _container(deployment)
        assert [s["configMapRef"]["name"] for s in container["envFrom"]] == ["marsad-settings"]
        names = {e["name"] for e in container["env"]}
        assert names <= SETTING_VARS, f"not settings: {names - SETTING_VARS}"
        assert names >= KAFKA_SECURITY, "Kafka SASL/TLS credentials come from the Secret"
        for entry in container["env"]:
            ref = entry.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                assert ref["name"] in SECRETS, entry
        secret_ref = {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"] if "valueFrom" in e}
        assert secret_ref["REDIS_URL"] == "marsad-redis", "the Redis URL carries the ACL user and password"
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        # Files named by the environment must be mounted from the Secrets.
        for var in ("KAFKA_SSL_CAFILE", "REDIS_SSL_CAFILE"):
            path = next(e["value"] for e in container["env"] if e["name"] == var)
            directory, _, filename = path.rpartition("/")
            volume = volumes[mounts[directory]]
            assert volume["secret"]["secretName"] in SECRETS
            assert filename in [i["path"] for i in volume["secret"]["items"]]
        assert mounts[settings["MARSAD_HOME"]] == "home", "MARSAD_HOME must be writable (read-only root)"


def test_prometheus_rule_wraps_the_alert_rules_unchanged(rendered: list[dict[str, Any]]) -> None:
    rule = _one(rendered, "PrometheusRule", "marsad-alerts")
    rules_file = yaml.safe_load((ROOT / "deploy" / "prometheus" / "rules" / "marsad-alerts.yml").read_text())
    assert rule["spec"] == rules_file, ("deploy/k8s/base/prometheusrule.yaml differs from "
                                        "deploy/prometheus/rules/marsad-alerts.yml: copy the groups over")


def test_production_overlay_sets_namespace_image_replicas_and_resources(production: list[dict[str, Any]]) -> None:
    base = render(K8S / "base")
    assert _one(production, "Namespace", "marsad")
    for obj in production:
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == "marsad", f"{obj['kind']}/{obj['metadata']['name']}"
    partitions = int(_settings_map(production)["MARSAD_PARTITIONS"])
    for stage in STAGES:
        name = f"marsad-{stage}"
        deployment, before = _one(production, "Deployment", name), _one(base, "Deployment", name)
        assert _container(deployment)["image"] == "registry.example.com/marsad/marsad:0.1.0"
        assert deployment["spec"]["replicas"] >= 2, "a stage survives a node drain"
        assert _container(deployment)["resources"] != _container(before)["resources"]
        # The patch changed resources only: probes, env and mounts are the base's.
        for field in ("livenessProbe", "readinessProbe", "env", "volumeMounts"):
            assert _container(deployment)[field] == _container(before)[field], field
        assert _one(production, "ScaledObject", name)["spec"]["maxReplicaCount"] <= partitions
