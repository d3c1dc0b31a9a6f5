"""The overlay a batch of articles is decided against (services/events/pending.py)."""

from __future__ import annotations

from services.events.clustering import DocumentFrequencies, most_posted
from services.events.features import ArticleFeatures
from services.events.pending import DF_DAYS, PendingChanges

DAY = 86400.0


def features(article_id: str, at: float, terms: list[str], entities: list[str]) -> ArticleFeatures:
    return ArticleFeatures(article_id, "outlet", at, dict.fromkeys(terms, 1.0), dict.fromkeys(entities, 1.0), None)


def test_postings_rank_as_redis_would_after_the_batch_changes() -> None:
    pending = PendingChanges()
    stored = [("ev-c", 30.0), ("ev-b", 20.0), ("ev-a", 20.0), ("ev-z", 10.0)]  # ZREVRANGE order: ties by id, descending
    assert pending.posted("k", stored, 3) == ["ev-c", "ev-b", "ev-a"]
    pending.file(["k"], "ev-new", 25.0)  # a new event, more recent than two of them
    pending.file(["k"], "ev-z", 40.0)  # an old one refreshed
    pending.unfile(["k"], "ev-c")  # an absorbed one
    assert pending.posted("k", stored, 3) == ["ev-z", "ev-new", "ev-b"]
    assert pending.removed_from("k", stored) == 1
    assert pending.posted("other", stored, 2) == ["ev-c", "ev-b"]


def test_frequencies_add_what_the_batch_counted_within_the_window() -> None:
    pending = PendingChanges()
    now = 100 * DAY
    stored = DocumentFrequencies(10, {"سيول": 2}, {"LOC:a": 1})
    pending.count({"entities": []}, features("a1", now, ["سيول", "صحار"], ["LOC:a"]))
    pending.count({"entities": []}, features("a2", now - DF_DAYS * DAY, ["سيول"], []))  # a day too old
    seen = pending.with_counts(stored, features("a3", now + 60, ["سيول", "صحار", "مدارس"], ["LOC:a"]))
    assert (seen.documents, dict(seen.terms), dict(seen.entities)) == (11, {"سيول": 3, "صحار": 1}, {"LOC:a": 2})
    assert pending.frequencies[(100, "terms")] == {"سيول": 1, "صحار": 1}


def test_trend_mentions_and_clock_are_counted_once_per_article() -> None:
    pending = PendingChanges()
    entity = {"canonical_id": "LOC:a", "type": "LOC", "canonical_name": "صحار", "count": 3}
    pending.count({"entities": [entity]}, features("a1", 1000.0, ["x"], ["LOC:a"]))
    pending.count({"entities": [entity]}, features("a2", 900.0, ["x"], ["LOC:a"]))
    assert sum(sum(c.values()) for c in pending.trend_counts.values()) == 6
    assert pending.clock == 1000.0


def test_most_posted_prefers_events_under_more_keys_then_smaller_ids() -> None:
    postings = [["ev-b", "ev-a"], ["ev-c", "ev-b"], ["ev-d", "ev-c"]]
    assert most_posted(postings, 3) == ["ev-b", "ev-c", "ev-a"]
    assert most_posted([], 3) == []
