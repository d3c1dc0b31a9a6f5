from services.common.schemas import validate
from services.events.trends import (
    BUCKET_SECONDS,
    bucket_of,
    burst_score,
    rising,
    snapshot_message,
    window_counts,
)

NOW = bucket_of(1_800_000_000)


def test_windows_sum_the_right_buckets() -> None:
    buckets = {NOW: {"LOC:a": 2}, NOW - 2: {"LOC:a": 1}, NOW - 5: {"LOC:a": 4}, NOW - 100: {"LOC:a": 8},
               NOW - 400: {"LOC:a": 100}}
    counts = window_counts(buckets, NOW)
    assert counts["15m"]["LOC:a"] == 3
    assert counts["1h"]["LOC:a"] == 7
    assert counts["24h"]["LOC:a"] == 15  # the bucket 400 x 5 min ago is outside the day


def test_a_burst_beats_a_steady_name() -> None:
    steady = {NOW - k: {"LOC:steady": 1} for k in range(0, 288, 12)}  # one mention an hour, all day
    burst = {NOW - k: {"PERS:new": 3} for k in range(0, 6)}  # eighteen in the last half hour
    buckets = {b: {**steady.get(b, {}), **burst.get(b, {})} for b in set(steady) | set(burst)}
    trends = rising(buckets, NOW)
    assert trends[0].canonical_id == "PERS:new"
    assert burst_score(18, 18) > burst_score(1, 24)


def test_snapshot_follows_the_schema() -> None:
    trends = rising({NOW: {"LOC:0123456789abcdef": 3}}, NOW)
    message = snapshot_message(trends, {"LOC:0123456789abcdef": ("LOC", "دمشق")}, NOW, "2026-11-10T08:00:00Z")
    validate("trend-snapshot.schema.json", message)
    assert message["entities"][0]["name"] == "دمشق"
    assert message["snapshot_id"] == f"tr-{NOW * BUCKET_SECONDS}"
