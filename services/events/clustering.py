"""Online story clustering: score an article against candidate events and pick one. No I/O.

Similarity mixes three signals, each in [0, 1]:

* text: cosine of TF-IDF vectors (the article's terms against the event's accumulated terms);
* entities: the share of the article's entity weight that the event shares, each entity weighted
  by its rarity (IDF) so that سوريا says little and عقيربات says a lot;
* time: an exponential decay on the gap between the article's publish time and the event's span.

Document frequencies are rolling counts kept by the caller; this module only reads them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .features import ArticleFeatures

TEXT_WEIGHT = 0.55
ENTITY_WEIGHT = 0.45
TIME_SCALE_HOURS = 36.0
# Until enough articles have been seen, document frequencies are smoothed by this many
# pseudo-documents so that the first few articles do not make every word look rare.
PRIOR_DOCUMENTS = 20
EVENT_MAX_TERMS = 300


@dataclass
class EventProfile:
    event_id: str
    terms: dict[str, float] = field(default_factory=dict)
    entities: dict[str, int] = field(default_factory=dict)  # canonical_id -> member articles mentioning it
    article_count: int = 0
    first_ts: float = 0.0
    last_ts: float = 0.0

    def absorb(self, article: ArticleFeatures) -> None:
        for term, weight in article.terms.items():
            self.terms[term] = self.terms.get(term, 0.0) + weight
        if len(self.terms) > EVENT_MAX_TERMS:
            kept = sorted(self.terms.items(), key=lambda item: (-item[1], item[0]))[:EVENT_MAX_TERMS]
            self.terms = dict(kept)
        for entity in article.entities:
            self.entities[entity] = self.entities.get(entity, 0) + 1
        self.first_ts = min(self.first_ts, article.timestamp) if self.article_count else article.timestamp
        self.last_ts = max(self.last_ts, article.timestamp) if self.article_count else article.timestamp
        self.article_count += 1


@dataclass(frozen=True)
class DocumentFrequencies:
    documents: int
    terms: Mapping[str, int]
    entities: Mapping[str, int]

    def idf(self, df: int) -> float:
        total = self.documents + PRIOR_DOCUMENTS
        return math.log((total + 1) / (df + 1)) + 1.0

    def term_idf(self, term: str) -> float:
        return self.idf(self.terms.get(term, 0))

    def entity_idf(self, entity: str) -> float:
        return self.idf(self.entities.get(entity, 0))


@dataclass(frozen=True)
class Scored:
    event_id: str
    score: float
    text: float
    entities: float
    time: float


def _tfidf(terms: Mapping[str, float], df: DocumentFrequencies) -> dict[str, float]:
    return {t: (1.0 + math.log(w)) * df.term_idf(t) for t, w in terms.items() if w > 0}


def _cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    if not a or not b:
        return 0.0
    small, large = (a, b) if len(a) < len(b) else (b, a)
    dot = sum(w * large.get(t, 0.0) for t, w in small.items())
    norm = math.sqrt(sum(w * w for w in a.values())) * math.sqrt(sum(w * w for w in b.values()))
    return dot / norm if norm else 0.0


def entity_overlap(article: ArticleFeatures, event: EventProfile, df: DocumentFrequencies) -> float:
    weights = {e: df.entity_idf(e) * (0.5 + 0.5 * s) for e, s in article.entities.items()}
    total = sum(weights.values())
    if not total:
        return 0.0
    shared = sum(w for e, w in weights.items() if e in event.entities)
    return shared / total


def time_factor(article: ArticleFeatures, event: EventProfile) -> float:
    if article.timestamp >= event.last_ts:
        gap = article.timestamp - event.last_ts
    elif article.timestamp <= event.first_ts:
        gap = event.first_ts - article.timestamp
    else:
        gap = 0.0
    return math.exp(-(gap / 3600.0) / TIME_SCALE_HOURS)


def score(article: ArticleFeatures, event: EventProfile, df: DocumentFrequencies) -> Scored:
    text = _cosine(_tfidf(article.terms, df), _tfidf(event.terms, df))
    entities = entity_overlap(article, event, df)
    decay = time_factor(article, event)
    total = decay * (TEXT_WEIGHT * text + ENTITY_WEIGHT * entities)
    return Scored(event.event_id, total, text, entities, decay)


def best_event(article: ArticleFeatures, candidates: Iterable[EventProfile], df: DocumentFrequencies,
               threshold: float) -> Scored | None:
    """The best-scoring candidate at or above ``threshold``; ties go to the older id, for determinism."""
    best: Scored | None = None
    for event in candidates:
        scored = score(article, event, df)
        if scored.score < threshold:
            continue
        if best is None or (scored.score, best.event_id) > (best.score, scored.event_id):
            best = scored
    return best


def retrieval_keys(article: ArticleFeatures, df: DocumentFrequencies, limit: int = 8) -> tuple[list[str], list[str]]:
    """The rarest entities and the strongest terms: what the inverted index is asked about.

    Asking only about a bounded number of keys keeps the cost per article flat however many
    events are active.
    """
    entities = sorted(article.entities, key=lambda e: (-df.entity_idf(e) * (0.5 + article.entities[e]), e))
    weighted = _tfidf(article.terms, df)
    terms = sorted(weighted, key=lambda t: (-weighted[t], t))
    return entities[:limit], terms[:limit]


def index_terms(event: EventProfile, df: DocumentFrequencies, limit: int = 12) -> list[str]:
    """The event's most characteristic terms, under which the inverted index files it."""
    weighted = _tfidf(event.terms, df)
    return sorted(weighted, key=lambda t: (-weighted[t], t))[:limit]
