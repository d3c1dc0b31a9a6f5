"""Rolling entity trends: mention counts in time buckets, sliding windows, a burst score. No I/O.

Counts live in Redis as one hash per five-minute bucket (canonical id -> mentions); windows are
sums over the last buckets before the stream's clock, which is the newest article time seen, so
a replay of old news trends as it happened rather than against today's date.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.common.schemas import SCHEMA_VERSION

BUCKET_SECONDS = 300
WINDOWS: dict[str, int] = {"15m": 900, "1h": 3600, "24h": 86400}
BUCKET_TTL_SECONDS = WINDOWS["24h"] + 2 * 3600
MIN_MENTIONS = 2  # below this in the last hour, a "burst" is noise
TOP_TRENDS = 20


def bucket_of(timestamp: float) -> int:
    return int(timestamp // BUCKET_SECONDS)


def buckets_in(window: str, now_bucket: int) -> range:
    """The buckets a window covers, ending with the current one."""
    return range(now_bucket - WINDOWS[window] // BUCKET_SECONDS + 1, now_bucket + 1)


@dataclass(frozen=True)
class Trend:
    canonical_id: str
    counts: dict[str, int]
    burst: float


def window_counts(buckets: Mapping[int, Mapping[str, int]], now_bucket: int) -> dict[str, Counter[str]]:
    counts: dict[str, Counter[str]] = {}
    for window in WINDOWS:
        total: Counter[str] = Counter()
        for bucket in buckets_in(window, now_bucket):
            total.update(buckets.get(bucket, {}))
        counts[window] = total
    return counts


def burst_score(last_hour: int, last_day: int) -> float:
    """How far the last hour runs above the entity's own hourly rate over the rest of the day."""
    baseline = max(last_day - last_hour, 0) / 23.0
    return (last_hour - baseline) / math.sqrt(baseline + 1.0)


def rising(buckets: Mapping[int, Mapping[str, int]], now_bucket: int, limit: int = TOP_TRENDS) -> list[Trend]:
    counts = window_counts(buckets, now_bucket)
    trends = []
    for canonical_id, last_hour in counts["1h"].items():
        if last_hour < MIN_MENTIONS:
            continue
        per_window = {window: int(counts[window][canonical_id]) for window in WINDOWS}
        trends.append(Trend(canonical_id, per_window, round(burst_score(last_hour, counts["24h"][canonical_id]), 4)))
    trends.sort(key=lambda t: (-t.burst, -t.counts["1h"], t.canonical_id))
    return trends[:limit]


def snapshot_message(trends: list[Trend], names: Mapping[str, tuple[str, str]], now_bucket: int,
                     generated_at: str) -> dict[str, Any]:
    entities = []
    for trend in trends:
        entity_type, name = names.get(trend.canonical_id, (trend.canonical_id.split(":", 1)[0], trend.canonical_id))
        entities.append({"canonical_id": trend.canonical_id, "name": name, "type": entity_type,
                         "counts": trend.counts, "burst": trend.burst})
    return {
        "schema_version": SCHEMA_VERSION,
        "snapshot_id": f"tr-{now_bucket * BUCKET_SECONDS}",
        "generated_at": generated_at,
        "windows": list(WINDOWS),
        "entities": entities,
    }
