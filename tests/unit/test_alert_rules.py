"""The operators' view is checked like code: alert rules with promtool, the dashboard by structure.

The live counterpart (tests/integration/test_prometheus_live.py) runs every dashboard query and loads
every rule in a real Prometheus scraping a real pipeline; the helpers here are shared with it.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
RULES = DEPLOY / "prometheus" / "rules" / "marsad-alerts.yml"
RULE_TESTS = DEPLOY / "prometheus" / "rules" / "marsad-alerts.test.yml"
PROMETHEUS_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "marsad.json"
OPERATORS_README = DEPLOY / "README.md"
ENSURE_SCRIPT = DEPLOY / "scripts" / "ensure-prometheus.sh"
METRIC_SOURCES = (REPO / "services" / "common" / "metrics.py", REPO / "services" / "ingest" / "feed_metrics.py")

# Until services/ingest/feed_metrics.py lands, the feed metrics' agreed names and labels stand in for it.
FEED_METRICS_CONTRACT = {
    "marsad_feed_last_success_timestamp_seconds": {"source"},
    "marsad_feed_polls_total": {"source", "result"},
    "marsad_feed_http_responses_total": {"source", "status_class"},
    "marsad_feed_bytes_total": {"source"},
    "marsad_feed_consecutive_failures": {"source"},
    "marsad_feed_items_total": {"source"},
    "marsad_feed_errors_total": {"source", "stage", "reason"},
}
# Series Prometheus makes itself rather than scraping them.
SYNTHETIC_METRICS = {"up": set()}
# Labels every scraped series has (target labels), and the histogram bucket label.
COMMON_LABELS = {"job", "instance", "le"}
TEMPLATE_VARIABLES = {"$job", "$instance", "$__rate_interval", "$__interval", "$__range"}

_PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
                    "bool", "offset", "inf", "nan"}
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)")
_MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*\"")


# -- shared helpers -------------------------------------------------------------------------------

def prometheus_binaries() -> tuple[str, str]:
    """Paths of promtool and prometheus, installing them with the set-up script when missing."""
    promtool, prometheus = shutil.which("promtool"), shutil.which("prometheus")
    if promtool and prometheus:
        return promtool, prometheus
    can_install = os.geteuid() == 0 or (
        shutil.which("sudo") is not None
        and subprocess.run(["sudo", "-n", "true"], capture_output=True, check=False).returncode == 0)
    if can_install:
        subprocess.run(["bash", str(ENSURE_SCRIPT)], check=False, timeout=900)
        promtool, prometheus = shutil.which("promtool"), shutil.which("prometheus")
        if promtool and prometheus:
            return promtool, prometheus
    message = ("promtool/prometheus are not on PATH and deploy/scripts/ensure-prometheus.sh could not install "
               "them (needs apt-get and root or password-less sudo); run it by hand")
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _metric_kwargs(call: ast.Call) -> tuple[str | None, list[str]]:
    name: str | None = None
    labels: list[str] = []
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        name = call.args[0].value
    label_node = call.args[2] if len(call.args) > 2 else None
    for keyword in call.keywords:
        if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
            name = keyword.value.value
        if keyword.arg == "labelnames":
            label_node = keyword.value
    if isinstance(label_node, ast.List | ast.Tuple):
        labels = [e.value for e in label_node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return name, labels


@cache
def exported_metrics() -> dict[str, set[str]]:
    """Every series name the workers can export, with its labels, parsed from the metric definitions."""
    exported: dict[str, set[str]] = {}
    for source in METRIC_SOURCES:
        if not source.exists():
            continue
        tree = ast.parse(source.read_text(encoding="utf-8"))
        # An Info's labels are the keys of the dict given to its .info() call.
        info_keys = {key.value for node in ast.walk(tree)
                     if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                     and node.func.attr == "info" and node.args and isinstance(node.args[0], ast.Dict)
                     for key in node.args[0].keys if isinstance(key, ast.Constant)}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name | ast.Attribute)):
                continue
            kind = node.func.id if isinstance(node.func, ast.Name) else node.func.attr
            if kind not in {"Counter", "Gauge", "Histogram", "Summary", "Info", "Enum"}:
                continue
            name, labels = _metric_kwargs(node)
            if not name:
                continue
            base = name.removesuffix("_total") if kind == "Counter" else name
            suffixes = {"Counter": ["_total", "_created"], "Gauge": [""], "Enum": [""],
                        "Histogram": ["_bucket", "_count", "_sum", "_created"],
                        "Summary": ["", "_count", "_sum", "_created"], "Info": ["_info"]}[kind]
            for suffix in suffixes:
                exported[base + suffix] = set(labels) | (info_keys if kind == "Info" else set())
    if not METRIC_SOURCES[1].exists():
        exported.update(FEED_METRICS_CONTRACT)
    return exported


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers that are no function, keyword or label."""
    bare = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", bare)  # label matchers, range windows
    bare = _GROUPING.sub(" ", bare)  # by (...), on (...)
    names = set()
    for match in re.finditer(r"(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", bare):
        if not match.group(2) and match.group(1).lower() not in _PROMQL_KEYWORDS:
            names.add(match.group(1))
    return names


def load_dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def dashboard_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel but rows, including those inside collapsed rows."""
    panels = []
    for panel in dashboard["panels"]:
        if panel.get("type") == "row":
            panels.extend(panel.get("panels", []))
        else:
            panels.append(panel)
    return panels


def load_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    promtool, _ = prometheus_binaries()
    return subprocess.run([promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


# -- promtool -------------------------------------------------------------------------------------

def test_promtool_accepts_the_rules() -> None:
    result = _promtool("check", "rules", RULES.name, cwd=RULES.parent)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_passes_its_promtool_unit_tests() -> None:
    result = _promtool("test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_accepts_the_prometheus_config() -> None:
    result = _promtool("check", "config", PROMETHEUS_CONFIG.name, cwd=PROMETHEUS_CONFIG.parent)
    assert result.returncode == 0, result.stdout + result.stderr


# -- rules ----------------------------------------------------------------------------------------

def test_every_alert_has_a_firing_and_a_quiet_test_case() -> None:
    cases = yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))
    assert cases["rule_files"] == [RULES.name]
    firing: set[str] = set()
    quiet: set[str] = set()
    for test in cases["tests"]:
        for case in test.get("alert_rule_test", []):
            (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    alerts = {rule["alert"] for rule in load_rules() if "alert" in rule}
    assert alerts, "no alerts found"
    assert not alerts - firing, f"alerts never shown to fire: {sorted(alerts - firing)}"
    assert not alerts - quiet, f"alerts never shown to stay quiet: {sorted(alerts - quiet)}"
    assert not (firing | quiet) - alerts, f"tests of unknown alerts: {sorted((firing | quiet) - alerts)}"


def test_every_alert_explains_itself_and_links_its_runbook() -> None:
    readme = OPERATORS_README.read_text(encoding="utf-8")
    headings = {line.lstrip("#").strip().lower() for line in readme.splitlines() if line.startswith("#")}
    for rule in load_rules():
        name = rule["alert"]
        annotations = rule.get("annotations", {})
        for key in ("summary", "description", "runbook"):
            assert str(annotations.get(key, "")).strip(), f"{name} has no {key} annotation"
        assert rule.get("labels", {}).get("severity") in {"critical", "warning"}, name
        assert annotations["runbook"].startswith(f"deploy/README.md#{name.lower()} "), name
        assert name.lower() in headings, f"deploy/README.md has no '{name}' section for the runbook link"


def test_rules_only_use_metrics_and_labels_the_workers_export() -> None:
    for rule in load_rules():
        _assert_known(rule["expr"], where=rule["alert"])


# -- dashboard ------------------------------------------------------------------------------------

def _assert_known(expr: str, where: str) -> None:
    known = {**exported_metrics(), **SYNTHETIC_METRICS}
    names = metric_names(expr)
    assert names, f"{where}: no metric in {expr}"
    unknown = names - known.keys()
    assert not unknown, (f"{where}: {sorted(unknown)} is defined in neither services/common/metrics.py nor "
                         f"services/ingest/feed_metrics.py: {expr}")
    labels = set().union(*(known[name] for name in names)) | COMMON_LABELS
    used = {label.strip() for group in _GROUPING.findall(expr) for label in group.split(",") if label.strip()}
    used |= set(_MATCHER.findall(expr))
    assert not used - labels, f"{where}: labels {sorted(used - labels)} are on none of {sorted(names)}: {expr}"


def test_dashboard_is_templated_by_job_and_instance() -> None:
    dashboard = load_dashboard()
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert {"datasource", "job", "instance"} <= variables.keys()
    assert variables["datasource"]["query"] == "prometheus"
    assert "job" in variables["job"]["query"]["query"]
    assert "$job" in variables["instance"]["query"]["query"]


def test_every_dashboard_panel_queries_prometheus_for_known_metrics() -> None:
    dashboard = load_dashboard()
    panels = dashboard_panels(dashboard)
    assert len(panels) >= 20
    ids = [p["id"] for p in dashboard["panels"]] + [p["id"] for row in dashboard["panels"]
                                                    for p in row.get("panels", [])]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels:
        title = panel.get("title", "?")
        assert panel.get("datasource", {}).get("type") == "prometheus", title
        targets = panel.get("targets", [])
        assert targets, f"panel {title!r} has no targets"
        assert len({t["refId"] for t in targets}) == len(targets), title
        position = panel["gridPos"]
        assert position["x"] + position["w"] <= 24, title
        for target in targets:
            expr = target.get("expr", "")
            assert expr.strip(), f"panel {title!r} has a target without expr"
            assert target.get("datasource", panel["datasource"])["type"] == "prometheus", title
            variables = set(re.findall(r"\$\{?\w+", expr))
            assert variables <= TEMPLATE_VARIABLES, f"{title}: unknown variables {variables - TEMPLATE_VARIABLES}"
            if "marsad_" in expr and "vector(" not in expr.split("marsad_")[0]:
                assert 'job=~"$job"' in expr and 'instance=~"$instance"' in expr, f"{title}: not templated: {expr}"
            _assert_known(expr, where=f"panel {title!r}")


def test_dashboard_has_the_operators_rows() -> None:
    rows = [p["title"] for p in load_dashboard()["panels"] if p.get("type") == "row"]
    for wanted in ("Overview", "Stage: ingest", "Stage: entities", "Stage: events", "Feeds", "Dead letters",
                   "Entities and events", "Redis", "Build"):
        assert wanted in rows, wanted
    exprs = " ".join(t["expr"] for p in dashboard_panels(load_dashboard()) for t in p["targets"])
    for metric in ("marsad_end_to_end_latency_seconds_bucket", "marsad_consumer_lag_messages",
                   "marsad_processing_seconds_bucket", "marsad_dead_letters_total", "marsad_ner_tokens_total",
                   "marsad_entities_total", "marsad_events_active", "marsad_events_total",
                   "marsad_redis_operation_seconds_bucket", "marsad_redis_errors_total", "marsad_build_info",
                   "marsad_feed_errors_total", "marsad_feed_retries_total", "marsad_ingest_decoded_total",
                   *FEED_METRICS_CONTRACT):
        assert metric in exprs, f"the dashboard does not show {metric}"


def test_grafana_provisioning_points_at_the_dashboard() -> None:
    datasources = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())
    assert datasources["datasources"][0]["type"] == "prometheus"
    providers = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/marsad.yml").read_text())
    assert providers["providers"][0]["type"] == "file"
    assert load_dashboard()["uid"] == "marsad-overview"
