"""The dashboard and the alert rules against a real Prometheus scraping a real pipeline.

Replays the sample feed with malformed messages (so dead-letter series exist), lets a local
`prometheus` scrape the three workers every second, then runs every dashboard query through the HTTP
API and checks that every alert rule loaded and evaluates cleanly.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.common.embedded import free_port, stop_process
from services.common.pipeline import Pipeline
from services.common.replay import push_documents, wait_for_outcomes
from services.common.topics import RAW_DOCUMENTS
from services.ingest import SAMPLE_FEED
from services.ingest.files import iter_documents
from tests.unit.test_alert_rules import (
    RULES,
    dashboard_panels,
    load_dashboard,
    load_rules,
    metric_names,
    prometheus_binaries,
)

from .conftest import produce_raw, start_pipeline

pytestmark = pytest.mark.integration
JOB = "marsad"

_FEEDS = "no feed is configured in a replay, so the ingest worker exports no feed series"
# Metrics a replay may legitimately leave without any series, and why. A query that comes back empty
# must name one of these with no series in Prometheus; once such a metric appears, its panels must
# show data like the rest.
MAY_BE_ABSENT = {
    "marsad_feed_last_success_timestamp_seconds": _FEEDS,
    "marsad_feed_polls_total": _FEEDS,
    "marsad_feed_http_responses_total": _FEEDS,
    "marsad_feed_bytes_total": _FEEDS,
    "marsad_feed_consecutive_failures": _FEEDS,
    "marsad_feed_items_total": _FEEDS,
    "marsad_feed_errors_total": _FEEDS,
    "marsad_feed_retries_total": _FEEDS,
    "marsad_ingest_decoded_total": "the sample feed's pages are UTF-8 text files, which come as text and need "
                                   "no decoding",
    "marsad_redis_operation_seconds_bucket": "no stage calls services.common.redis_store.timed() yet, "
                                             "so no Redis round-trip is observed",
    "marsad_redis_operation_seconds_count": "as marsad_redis_operation_seconds_bucket",
    "marsad_redis_errors_total": "created on the first failed Redis call (and timed() is not used yet)",
}


class Prometheus:
    """A `prometheus` process on a free loopback port, scraping the pipeline's workers every second."""

    def __init__(self, binary: str, workdir: Path, pipeline: Pipeline) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.instances = [f"marsad-{w.stage}:{w.metrics_port}" for w in pipeline.workers]
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(RULES)],
            "scrape_configs": [{
                "job_name": JOB,
                # A readable instance label per worker instead of the bare address.
                "static_configs": [{"targets": [f"127.0.0.1:{w.metrics_port}"],
                                    "labels": {"instance": instance}}
                                   for w, instance in zip(pipeline.workers, self.instances, strict=True)],
            }],
        }
        config_path = workdir / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        self.log_path = workdir / "prometheus.log"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [binary, f"--config.file={config_path}", f"--storage.tsdb.path={workdir / 'data'}",
                 f"--web.listen-address=127.0.0.1:{self.port}"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        self.started = time.monotonic()

    def get(self, path: str, **params: str) -> Any:
        query = "?" + urllib.parse.urlencode(params) if params else ""
        with urllib.request.urlopen(self.url + path + query, timeout=10) as response:
            body = json.load(response)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.get("/api/v1/query", query=expr)
        return data["result"] if data["resultType"] == "vector" else [{"value": data["result"]}]

    def wait_until(self, what: str, check: Any, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self.process.poll() is None, f"prometheus exited; see {self.log_path}"
            try:
                if check():
                    return
            except (OSError, ValueError, KeyError):
                pass  # not up yet
            assert time.monotonic() < deadline, f"Prometheus: {what} not within {timeout:.0f}s; see {self.log_path}"
            time.sleep(0.5)

    def stop(self) -> None:
        stop_process(self.process, timeout=20)


def _ready(prometheus: Prometheus) -> bool:
    with urllib.request.urlopen(prometheus.url + "/-/ready", timeout=2) as response:
        return response.status == 200


def _substitute(expr: str, prometheus: Prometheus) -> str:
    """Grafana's template variables as Grafana would fill them in, with windows covering the whole test."""
    window = f"{int(time.monotonic() - prometheus.started) + 60}s"
    values = {"job": JOB, "instance": "|".join(re.escape(i).replace("\\", "\\\\") for i in prometheus.instances),
              "__rate_interval": window, "__range": window, "__interval": "15s"}
    filled = re.sub(r"\$\{?(\w+)\}?", lambda m: values[m.group(1)], expr)
    assert "$" not in filled, filled
    return filled


def test_every_dashboard_query_and_alert_rule_works_on_a_real_prometheus(tmp_path: Path) -> None:
    _, prometheus_binary = prometheus_binaries()
    pipeline = start_pipeline(tmp_path / "home")
    prometheus: Prometheus | None = None
    try:
        prometheus = Prometheus(prometheus_binary, tmp_path / "prometheus", pipeline)
        prometheus.wait_until("ready", lambda: _ready(prometheus))
        settings = pipeline.settings

        # Two rounds, each a malformed message and documents: a counter that is born during a burst
        # starts at its burst total and shows no rate, so round one makes every series exist and
        # round two moves them while Prometheus watches.
        documents = list(iter_documents([SAMPLE_FEED]))
        outcomes: dict[str, str] = {}
        for round_number, batch in enumerate((documents[:1], documents[1:]), start=1):
            malformed = f"prometheus-live-malformed-{round_number}"
            pushed = asyncio.run(push_documents(settings, batch))
            asyncio.run(produce_raw(settings, RAW_DOCUMENTS, [(malformed.encode(), b"\xff{ not json")]))
            outcomes.update(wait_for_outcomes(settings, [*pushed.doc_ids, malformed], stall_timeout=300,
                                              check_alive=lambda: _assert_alive(pipeline)))
            assert outcomes[malformed] == "dead-letter:ingest:decode"
            assigned = sum(v.startswith("event:") for v in outcomes.values())
            assert assigned >= round_number, outcomes
            prometheus.wait_until(f"round {round_number} scraped", lambda n=round_number, a=assigned: (
                _value(prometheus, f'sum(marsad_dead_letters_total{{job="{JOB}",error_class="decode"}})') >= n
                and _value(prometheus, f'sum(marsad_end_to_end_latency_seconds_count{{job="{JOB}"}})') >= a))
        assert assigned >= 10

        prometheus.wait_until("every worker scraped a few times, up and ready", lambda: (
            _value(prometheus, f'count(count_over_time(up{{job="{JOB}"}}[1m]) >= 3 and up{{job="{JOB}"}} == 1)') == 3
            and _value(prometheus, f'sum(marsad_worker_ready{{job="{JOB}"}})') == 3))
        time.sleep(3)  # a few more scrapes, so each rate window holds the end state

        present = {name for name in _all_metric_names(load_dashboard())
                   if _value(prometheus, f'count({{__name__="{name}",job="{JOB}"}}) or vector(0)') > 0}
        failures: list[str] = []
        empty_but_expected: list[str] = []
        for panel in dashboard_panels(load_dashboard()):
            for target in panel["targets"]:
                expr = _substitute(target["expr"], prometheus)
                where = f"panel {panel['title']!r} ({target['refId']}): {expr}"
                try:
                    result = prometheus.query(expr)
                except urllib.error.HTTPError as exc:
                    failures.append(f"{where} -> HTTP {exc.code}: {exc.read().decode(errors='replace')[:300]}")
                    continue
                if result:
                    continue
                absent = metric_names(expr) - present
                unexplained = absent - MAY_BE_ABSENT.keys()
                if not absent:
                    failures.append(f"{where} -> no series, though every metric it reads has series")
                elif unexplained:
                    failures.append(f"{where} -> no series; {sorted(unexplained)} never exported")
                else:
                    empty_but_expected.append(f"{panel['title']}: " + "; ".join(
                        sorted({MAY_BE_ABSENT[name] for name in absent})))
        assert not failures, "dashboard queries that failed or came back empty:\n" + "\n".join(failures)
        # The overview's headline numbers are real numbers, not just series.
        overview = {panel["title"]: panel for panel in dashboard_panels(load_dashboard())}
        for title in ("Documents in / min", "Events updated / min", "End-to-end p99", "Error ratio"):
            value = _value(prometheus, _substitute(overview[title]["targets"][0]["expr"], prometheus))
            assert math.isfinite(value) and value > 0, f"{title}: {value}"
        # Every empty answer belongs to the feed or Redis panels, for the reasons MAY_BE_ABSENT gives.
        print("\nempty by design in a replay:\n" + "\n".join(sorted(set(empty_but_expected))))

        # Every alert rule loaded and evaluated without error.
        names = {rule["alert"] for rule in load_rules()}
        prometheus.wait_until("every rule evaluated", lambda: all(
            rule["health"] != "unknown" for rule in _loaded_rules(prometheus)) and _loaded_rules(prometheus))
        loaded = _loaded_rules(prometheus)
        assert {rule["name"] for rule in loaded} == names
        for rule in loaded:
            assert rule["health"] == "ok", f"{rule['name']}: {rule.get('lastError')}"
            assert rule["type"] == "alerting"
    finally:
        if prometheus is not None:
            prometheus.stop()
        pipeline.stop()
    assert prometheus.process.returncode is not None


def _assert_alive(pipeline: Pipeline) -> None:
    dead = pipeline.dead_workers()
    assert not dead, f"{dead[0].stage} worker died: see {dead[0].log_path}"


def _value(prometheus: Prometheus, expr: str) -> float:
    result = prometheus.query(expr)
    return float(result[0]["value"][1]) if result else 0.0


def _all_metric_names(dashboard: dict[str, Any]) -> set[str]:
    return {name for panel in dashboard_panels(dashboard) for target in panel["targets"]
            for name in metric_names(target["expr"])}


def _loaded_rules(prometheus: Prometheus) -> list[dict[str, Any]]:
    return [rule for group in prometheus.get("/api/v1/rules")["groups"] for rule in group["rules"]]
