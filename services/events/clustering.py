"""Online story clustering: score an article against candidate events and pick one. No I/O.

Similarity mixes three signals, each in [0, 1]:

* text: cosine of TF-IDF vectors (the article's terms against the event's accumulated terms);
* passages: the best cosine between one of the article's paragraphs and one the event has seen,
  because an article that tells two stories shares only part of itself with each;
* entities: the share of the article's entity weight that the event shares, each entity weighted
  by its rarity (IDF) so that سوريا says little and عقيربات says a lot;
* time: an exponential decay on the gap between the article's publish time and the event's span.

Document frequencies are rolling counts kept by the caller; this module only reads them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .background import BackgroundFrequencies, background
from .features import ArticleFeatures

PASSAGE_WEIGHT = 0.45
TEXT_WEIGHT = 0.30
ENTITY_WEIGHT = 0.25
# Articles within a day of an event's span are as good as simultaneous; beyond, the score decays.
TIME_GRACE_HOURS = 24.0
TIME_SCALE_HOURS = 72.0
# Rarity is estimated from the stream's rolling counts, smoothed towards a prior worth this many
# documents: for terms, background frequencies over a general news corpus (background.py); for
# entities, a flat rate. Early on the prior speaks; as the stream grows, the stream does.
PRIOR_DOCUMENTS = 20
ENTITY_PRIOR_RATE = 0.02
EVENT_MAX_TERMS = 300
EVENT_MAX_PASSAGES = 24


@dataclass
class EventProfile:
    event_id: str
    terms: dict[str, float] = field(default_factory=dict)
    entities: dict[str, int] = field(default_factory=dict)  # canonical_id -> member articles mentioning it
    article_count: int = 0
    first_ts: float = 0.0
    last_ts: float = 0.0
    passages: list[dict[str, float]] = field(default_factory=list)

    def absorb(self, article: ArticleFeatures) -> None:
        # Oldest passages give way to new ones: the event's vocabulary follows the story as it moves.
        self.passages = [*self.passages, *article.passages][-EVENT_MAX_PASSAGES:]
        for term, weight in article.terms.items():
            self.terms[term] = self.terms.get(term, 0.0) + weight
        self._cap_terms()
        for entity in article.entities:
            self.entities[entity] = self.entities.get(entity, 0) + 1
        self.first_ts = min(self.first_ts, article.timestamp) if self.article_count else article.timestamp
        self.last_ts = max(self.last_ts, article.timestamp) if self.article_count else article.timestamp
        self.article_count += 1

    def merge(self, other: EventProfile) -> None:
        """Take in everything ``other`` has seen (it is being absorbed into this event)."""
        for term, weight in other.terms.items():
            self.terms[term] = self.terms.get(term, 0.0) + weight
        self._cap_terms()
        for entity, count in other.entities.items():
            self.entities[entity] = self.entities.get(entity, 0) + count
        self.passages = [*self.passages, *other.passages][-EVENT_MAX_PASSAGES:]
        self.first_ts = min(self.first_ts, other.first_ts)
        self.last_ts = max(self.last_ts, other.last_ts)
        self.article_count += other.article_count

    def _cap_terms(self) -> None:
        if len(self.terms) > EVENT_MAX_TERMS:
            kept = sorted(self.terms.items(), key=lambda item: (-item[1], item[0]))[:EVENT_MAX_TERMS]
            self.terms = dict(kept)

    def as_article(self) -> ArticleFeatures:
        """The event seen as one long article, to compare two events with :func:`score`."""
        return ArticleFeatures(self.event_id, "", self.last_ts, self.terms,
                               dict.fromkeys(self.entities, 1.0), None, tuple(self.passages))


@dataclass(frozen=True)
class DocumentFrequencies:
    documents: int
    terms: Mapping[str, int]
    entities: Mapping[str, int]
    prior: BackgroundFrequencies = field(default_factory=background)
    _term_cache: dict[str, float] = field(default_factory=dict, compare=False, repr=False)

    def _idf(self, df: int, prior_rate: float) -> float:
        rate = (df + PRIOR_DOCUMENTS * prior_rate) / (self.documents + PRIOR_DOCUMENTS)
        return 1.0 + math.log(1.0 / rate)

    def term_idf(self, term: str) -> float:
        cached = self._term_cache.get(term)
        if cached is None:
            cached = self._term_cache[term] = self._idf(self.terms.get(term, 0), self.prior.rate(term))
        return cached

    def entity_idf(self, entity: str) -> float:
        return self._idf(self.entities.get(entity, 0), ENTITY_PRIOR_RATE)


@dataclass(frozen=True)
class Scored:
    event_id: str
    score: float
    text: float
    passages: float
    entities: float
    time: float


def _tfidf(terms: Mapping[str, float], df: DocumentFrequencies) -> dict[str, float]:
    return {t: (1.0 + math.log(w)) * df.term_idf(t) for t, w in terms.items() if w > 0}


def _unit(vector: Mapping[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(w * w for w in vector.values()))
    return {t: w / norm for t, w in vector.items()} if norm else {}


def _dot(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    small, large = (a, b) if len(a) < len(b) else (b, a)
    return sum(w * large.get(t, 0.0) for t, w in small.items())


@dataclass(frozen=True)
class PreparedArticle:
    """An article's weighted vectors, computed once and compared with every candidate."""

    features: ArticleFeatures
    text: dict[str, float]
    passages: list[dict[str, float]]
    entity_weights: dict[str, float]


def prepare(article: ArticleFeatures, df: DocumentFrequencies) -> PreparedArticle:
    return PreparedArticle(
        article,
        _unit(_tfidf(article.terms, df)),
        [_unit(_tfidf(p, df)) for p in article.passages],
        {e: df.entity_idf(e) * (0.5 + 0.5 * s) for e, s in article.entities.items()},
    )


def passage_similarity(article: PreparedArticle, event: EventProfile, df: DocumentFrequencies) -> float:
    best = 0.0
    for passage in event.passages:
        theirs = _unit(_tfidf(passage, df))
        for mine in article.passages:
            best = max(best, _dot(mine, theirs))
    return best


def entity_overlap(article: PreparedArticle, event: EventProfile) -> float:
    """Share of the article's entity weight the event shares, each shared entity counted by how
    many of the event's articles mention it: a big mixed event names everything once, and must
    not look like every story's home for that."""
    total = sum(article.entity_weights.values())
    if not total:
        return 0.0
    members = max(event.article_count, 1)
    shared = sum(w * min(1.0, 2.0 * event.entities[e] / members)
                 for e, w in article.entity_weights.items() if e in event.entities)
    return shared / total


def time_factor(article: ArticleFeatures, event: EventProfile) -> float:
    if article.timestamp >= event.last_ts:
        gap = article.timestamp - event.last_ts
    elif article.timestamp <= event.first_ts:
        gap = event.first_ts - article.timestamp
    else:
        gap = 0.0
    return math.exp(-max(gap / 3600.0 - TIME_GRACE_HOURS, 0.0) / TIME_SCALE_HOURS)


def score(article: ArticleFeatures | PreparedArticle, event: EventProfile, df: DocumentFrequencies) -> Scored:
    prepared = article if isinstance(article, PreparedArticle) else prepare(article, df)
    text = _dot(prepared.text, _unit(_tfidf(event.terms, df)))
    passages = passage_similarity(prepared, event, df)
    entities = entity_overlap(prepared, event)
    decay = time_factor(prepared.features, event)
    total = decay * (PASSAGE_WEIGHT * passages + TEXT_WEIGHT * text + ENTITY_WEIGHT * entities)
    return Scored(event.event_id, total, text, passages, entities, decay)


# Passage similarity is the costly signal; it is computed only for the candidates that the cheap
# signals (whole-text cosine, shared entities) rank highest.
PASSAGE_CANDIDATES = 8


def matching_events(article: ArticleFeatures, candidates: Iterable[EventProfile], df: DocumentFrequencies,
                    threshold: float) -> list[Scored]:
    """Candidates scoring at or above ``threshold``, best first; ties go to the smaller id (determinism)."""
    prepared = prepare(article, df)
    events = list(candidates)
    if len(events) > PASSAGE_CANDIDATES:
        def cheap(event: EventProfile) -> tuple[float, str]:
            text = _dot(prepared.text, _unit(_tfidf(event.terms, df)))
            return (-(TEXT_WEIGHT * text + ENTITY_WEIGHT * entity_overlap(prepared, event)), event.event_id)

        events = sorted(events, key=cheap)[:PASSAGE_CANDIDATES]
    scored = [score(prepared, event, df) for event in events]
    return sorted((s for s in scored if s.score >= threshold), key=lambda s: (-s.score, s.event_id))


# Two events that one article joins equally well are one story told in two halves when they are
# also this close to each other (as a share of the joining threshold).
MERGE_EVENT_FLOOR = 0.6


def events_to_merge(best: EventProfile, others: Iterable[EventProfile], df: DocumentFrequencies,
                    threshold: float) -> list[EventProfile]:
    """Which other matching events the best one should absorb."""
    return [other for other in others
            if score(other.as_article(), best, df).score >= MERGE_EVENT_FLOOR * threshold]


def survivor_of(events: Iterable[EventProfile]) -> EventProfile:
    """The event that lives on after a merge: the oldest (ties: the smaller id), so merges are deterministic."""
    return min(events, key=lambda e: (e.first_ts, e.event_id))


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
