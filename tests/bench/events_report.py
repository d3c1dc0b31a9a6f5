"""Replay one SaudiNewsNet day through the whole pipeline and report how it grouped into events.

    python -m tests.bench.events_report --shared ../shared --day 2015-08-10

Prints the number of events, their size distribution, how agency (`was`) stories and their
republications grouped, and the ten largest events with their titles and sources, for a reader to
judge whether each is one real event.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

AGENCY = "was"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--day", default="2015-08-10")
    args = parser.parse_args()
    day = args.shared / "corpus" / "saudinewsnet" / f"{args.day}.zip"
    if not day.exists():
        print(f"report skipped: {day} not found")
        return 0
    env = {**os.environ, "MARSAD_HOME": tempfile.mkdtemp(prefix="marsad-report-")}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    env.pop("REDIS_URL", None)
    marsad = [sys.executable, "-m", "services.common.cli"]
    replay = subprocess.run([*marsad, "replay", "--fresh", str(day)], env=env, capture_output=True, text=True,
                            check=False)
    print(replay.stderr.strip().splitlines()[-1] if replay.stderr.strip() else "(no replay output)")
    if replay.returncode:
        print(replay.stderr[-2000:])
        return 1
    events = json.loads(subprocess.run([*marsad, "events", "--json"], env=env, capture_output=True, text=True,
                                       check=True).stdout)
    sizes = Counter(event["article_count"] for event in events)
    articles = sum(event["article_count"] for event in events)
    print(f"{len(events)} events from {articles} articles")
    buckets = [(1, 1), (2, 2), (3, 5), (6, 10), (11, 20), (21, 10**9)]
    print("size distribution: " + ", ".join(
        f"{lo if lo == hi else f'{lo}-{hi}' if hi < 10**9 else f'{lo}+'}: "
        f"{sum(n for size, n in sizes.items() if lo <= size <= hi)}" for lo, hi in buckets))
    agency_events = [e for e in events if AGENCY in e["sources"]]
    with_others = [e for e in agency_events if len(e["sources"]) > 1]
    syndicated = sum(e["syndicated_count"] for e in events)
    print(f"agency ({AGENCY}) stories are in {len(agency_events)} events; {len(with_others)} of them also hold "
          f"other outlets' articles; {syndicated} articles were counted as syndication (near-copies)")
    print("ten largest events:")
    for event in sorted(events, key=lambda e: (-e["article_count"], e["event_id"]))[:10]:
        print(f"- {event['article_count']} articles, {event['source_count']} sources "
              f"({', '.join(event['sources'])}); syndicated {event['syndicated_count']}: {event['title']}")
        for article in event["articles"][:6]:
            print(f"    {article['source']}: {article['title']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
