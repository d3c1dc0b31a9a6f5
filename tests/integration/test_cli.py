"""The CLI contract as independent checks use it: separate commands sharing $MARSAD_HOME."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from itertools import combinations
from pathlib import Path

import pytest

from services.ingest import SAMPLE_FEED
from tests.conftest import ROOT, shared_path

pytestmark = pytest.mark.integration


def marsad(*args: str, home: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "REDIS_URL")}
    env["MARSAD_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "services.common.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, check=False)


def events_by_file(events: list[dict], key: str = "name") -> dict[str, set[str]]:
    where: dict[str, set[str]] = {}
    for event in events:
        for article in event["articles"]:
            path = Path(article["source_path"])
            name = path.name if key == "name" else f"{path.parent.name}/{path.name}"
            where.setdefault(name, set()).add(event["id"])
    return where


def test_replay_then_events_json_obeys_the_seed_gold(tmp_path: Path) -> None:
    seeds = shared_path("corpus", "seeds")
    gold = json.loads((seeds / "gold.json").read_text(encoding="utf-8"))["events"]
    replay = marsad("replay", "--fresh", str(seeds), home=tmp_path)
    assert replay.returncode == 0, replay.stderr[-3000:]
    assert "replayed 5 documents" in replay.stderr
    shown = marsad("events", "--json", home=tmp_path)
    assert shown.returncode == 0, shown.stderr[-3000:]
    events = json.loads(shown.stdout)
    where = events_by_file(events)
    assert set(where) == set(gold["stories"]["russian_kalibr_strike_on_isis_near_hama_aqirbat"]
                             + gold["stories"]["kazakhstan_kyrgyzstan_on_sending_troops_to_syria"]
                             + gold["stories"]["russian_strikes_kill_caucasus_isis_fighters_in_mayadin"]
                             + gold["stories"]["putin_erdogan_idlib_truce_and_coalition_strike"])
    for a, b in gold["must_share"]:
        assert where[a] & where[b]
    for a, b in gold["must_not_share"]:
        assert not where[a] & where[b]
    for event in events:
        assert event["title"] and event["article_count"] == len(event["articles"]) >= 1
        assert event["sources"] and isinstance(event["top_entities"], dict)
        assert all(a["source_path"] for a in event["articles"])


def test_run_until_idle_forms_the_sample_feed_events(tmp_path: Path) -> None:
    expected = json.loads((ROOT / "tests" / "fixtures" / "sample_feed_events.json").read_text(encoding="utf-8"))
    run = marsad("run", "--until-idle", "--fresh", home=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "stopped cleanly" in run.stderr
    events = json.loads(marsad("events", "--json", home=tmp_path).stdout)
    where = events_by_file(events, key="outlet")
    story_of = {path: story for story, paths in expected["events"].items() for path in paths}
    assert set(where) == set(story_of), "every sample article reaches an event"
    for a, b in combinations(sorted(story_of), 2):
        if story_of[a] != story_of[b]:
            assert not where[a] & where[b], f"{a} and {b} tell different stories"
    for a, b in expected["syndicated"]:
        assert where[a] & where[b], f"{b} republishes {a}"
    joined = sum(1 for a, b in combinations(sorted(story_of), 2) if story_of[a] == story_of[b] and where[a] & where[b])
    together = sum(1 for a, b in combinations(sorted(story_of), 2) if story_of[a] == story_of[b])
    assert joined / together >= 0.7, f"only {joined}/{together} same-story pairs grouped"


def _processes_using(home: Path) -> list[int]:
    """Live processes started for this $MARSAD_HOME (workers by environment, servers by arguments)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if f"MARSAD_HOME={home}".encode() in environ.split(b"\0") or str(home).encode() in cmdline:
            found.append(int(entry.name))
    return found


def test_sigterm_stops_every_child_a_command_started(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "REDIS_URL")}
    env["MARSAD_HOME"] = str(tmp_path)
    command = subprocess.Popen([sys.executable, "-m", "services.common.cli", "replay", str(SAMPLE_FEED)],
                               env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert command.stderr is not None
    for line in command.stderr:  # wait until the workers run
        if line.strip().startswith("workers"):
            break
    assert _processes_using(tmp_path), "the replay started no children"
    command.send_signal(signal.SIGTERM)
    command.wait(timeout=120)
    deadline = time.monotonic() + 30
    while _processes_using(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _processes_using(tmp_path), "children outlived the command"


def test_replay_without_workers_pushes_to_the_running_pipeline(tmp_path: Path) -> None:
    from .conftest import start_pipeline

    pipeline = start_pipeline(tmp_path / "deployment")
    try:
        settings = pipeline.settings
        env = {**os.environ, "MARSAD_HOME": str(tmp_path / "operator"),
               "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers, "REDIS_URL": settings.redis_url,
               "MARSAD_TOPIC_PREFIX": settings.topic_prefix, "MARSAD_REDIS_PREFIX": settings.redis_prefix}
        replay = subprocess.run([sys.executable, "-m", "services.common.cli", "replay", "--no-workers",
                                 str(SAMPLE_FEED)], env=env, cwd=ROOT, capture_output=True, text=True,
                                timeout=600, check=False)
        assert replay.returncode == 0, replay.stderr[-3000:]
        assert "replayed 21 documents" in replay.stderr and "21 event" in replay.stderr
        # Nothing of its own was started: no embedded services under the operator's home.
        assert not (tmp_path / "operator" / "redis").exists()
        assert "starting workers" not in replay.stderr
    finally:
        pipeline.stop()
    # Nowhere to push to: a clear refusal, not embedded services nobody asked for.
    refused = marsad("replay", "--no-workers", str(SAMPLE_FEED), home=tmp_path / "none")
    assert refused.returncode == 2 and "KAFKA_BOOTSTRAP_SERVERS and REDIS_URL" in " ".join(refused.stderr.split())
