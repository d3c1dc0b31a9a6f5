"""What a batch of articles changes in the event state, held in memory until one transaction writes it.

The articles of a batch are decided one after another, and each must see what the earlier ones
did: the documents they counted, the events they opened, joined or merged, the postings they
filed. This overlay is that view. Deciding against it gives what one transaction per article
would give, whatever the batch's size, so a replay groups articles the same way however its
messages happen to be fetched. No I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .clustering import DocumentFrequencies
from .features import ArticleFeatures
from .trends import bucket_of
from .updates import EventRecord

# Document frequencies are summed over this many days up to the article's own.
DF_DAYS = 7


@dataclass
class PendingChanges:
    # The working copy of every event the batch touched, and what Redis held of it when read:
    # its version (None: opened in this batch) and the articles already in its stored member list.
    records: dict[str, EventRecord] = field(default_factory=dict)
    stored_versions: dict[str, int | None] = field(default_factory=dict)
    stored_members: dict[str, set[str]] = field(default_factory=dict)
    assigned: dict[str, str] = field(default_factory=dict)  # article id -> event id
    postings: dict[str, dict[str, float | None]] = field(default_factory=dict)  # key -> event -> score; None: removed
    frequencies: dict[tuple[int, str], Counter[str]] = field(default_factory=dict)  # (day, kind) -> key -> documents
    documents: Counter[int] = field(default_factory=Counter)  # day -> documents
    trend_counts: dict[int, Counter[str]] = field(default_factory=dict)  # bucket -> canonical id -> mentions
    entity_names: dict[str, tuple[str, str]] = field(default_factory=dict)  # canonical id -> (type, name)
    clock: float | None = None

    # -- events ------------------------------------------------------------------------------------

    def take(self, record: EventRecord, stored_version: int | None) -> EventRecord:
        """Start working on ``record`` (as read from Redis, or new when ``stored_version`` is None)."""
        event_id = record.profile.event_id
        self.records[event_id] = record
        self.stored_versions[event_id] = stored_version
        self.stored_members[event_id] = {m["article_id"] for m in record.members}
        return record

    def new_members(self, event_id: str) -> list[dict[str, Any]]:
        """Members the event gained in this batch, to append to its stored list."""
        stored = self.stored_members[event_id]
        return [m for m in self.records[event_id].members if m["article_id"] not in stored]

    # -- the inverted index ------------------------------------------------------------------------

    def file(self, keys: Iterable[str], event_id: str, score: float) -> None:
        for key in keys:
            self.postings.setdefault(key, {})[event_id] = score

    def unfile(self, keys: Iterable[str], event_id: str) -> None:
        for key in keys:
            self.postings.setdefault(key, {})[event_id] = None

    def removed_from(self, key: str, stored: Sequence[tuple[str, float]]) -> int:
        """How many of the stored postings the batch removed: a read that deep no longer holds
        ``len(stored)`` live postings."""
        changes = self.postings.get(key)
        if not changes:
            return 0
        return sum(1 for event_id, _ in stored if event_id in changes and changes[event_id] is None)

    def posted(self, key: str, stored: Sequence[tuple[str, float]], depth: int) -> list[str]:
        """The ``depth`` most recent events under ``key``, given its stored postings (most recent
        first, as ZREVRANGE gives them: ties by id, descending) and the batch's changes."""
        changes = self.postings.get(key)
        if not changes:
            return [event_id for event_id, _ in stored[:depth]]
        merged = dict(stored)
        for event_id, score in changes.items():
            if score is None:
                merged.pop(event_id, None)
            else:
                merged[event_id] = score
        ranked = sorted(merged.items(), key=lambda item: (item[1], item[0]), reverse=True)
        return [event_id for event_id, _ in ranked[:depth]]

    # -- counts ------------------------------------------------------------------------------------

    def count(self, article: dict[str, Any], features: ArticleFeatures) -> None:
        """Document frequencies and trend mentions of one assigned article."""
        day = int(features.timestamp // 86400)
        self.documents[day] += 1
        self.frequencies.setdefault((day, "terms"), Counter()).update(features.terms.keys())
        self.frequencies.setdefault((day, "entities"), Counter()).update(features.entities.keys())
        entities = article.get("entities", [])
        if entities:
            mentions = self.trend_counts.setdefault(bucket_of(features.timestamp), Counter())
            for entity in entities:
                mentions[entity["canonical_id"]] += entity["count"]
                self.entity_names[entity["canonical_id"]] = (entity["type"], entity["canonical_name"])
        self.clock = features.timestamp if self.clock is None else max(self.clock, features.timestamp)

    def with_counts(self, stored: DocumentFrequencies, features: ArticleFeatures) -> DocumentFrequencies:
        """``stored`` (the article's frequencies as Redis holds them) plus what the batch counted so far."""
        day = int(features.timestamp // 86400)
        days = [d for d in range(day - DF_DAYS + 1, day + 1) if d in self.documents]
        if not days:
            return stored
        terms, entities = dict(stored.terms), dict(stored.entities)
        for d in days:
            for kind, values, out in (("terms", features.terms, terms), ("entities", features.entities, entities)):
                counted = self.frequencies.get((d, kind))
                if not counted:
                    continue
                for value in values:
                    extra = counted.get(value)
                    if extra:
                        out[value] = out.get(value, 0) + extra
        return DocumentFrequencies(stored.documents + sum(self.documents[d] for d in days), terms, entities,
                                   stored.prior)
