"""Online story clustering: score an article against candidate events and pick one. No I/O.

Similarity mixes these signals, each in [0, 1]:

* text: cosine of the article's TF-IDF vector and the event's centroid (the sum of its members'
  unit vectors);
* passages: the best cosine between one of the article's paragraphs and one the event has seen,
  because an article that tells two stories shares only part of itself with each;
* entities: the share of the article's entity weight that the event shares, each entity weighted
  by the information its rarity carries (log 1/rate) so that سوريا says little and عقيربات says a
  lot, and the share is taken against at least one specific entity's worth, so that an article
  naming only common entities (الله, الرياض) cannot look like an event's on names alone;
* time: an exponential decay on the gap between the article's publish time and the event's span.

Document frequencies are rolling counts kept by the caller; this module only reads them. An
article's vectors are weighted with the frequencies of the moment it arrives and an event keeps
them so: re-weighting every member at every comparison would cost more than all the rest, and a
story's vocabulary was rare or common when it was told.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

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
# Shared entity weight counts in full only past about one specific entity's information (one in
# 2 % of documents: log 50 ≈ 4); below it, shared names are weak evidence.
ENTITY_EVIDENCE = 4.0
EVENT_MAX_TERMS = 300
EVENT_MAX_PASSAGES = 24


@dataclass(frozen=True)
class DocumentFrequencies:
    documents: int
    terms: Mapping[str, int]
    entities: Mapping[str, int]
    prior: BackgroundFrequencies = field(default_factory=background)

    def _idf(self, df: int, prior_rate: float) -> float:
        # 1 + log(1 / rate) with rate = (df + PRIOR_DOCUMENTS * prior_rate) / (documents + PRIOR_DOCUMENTS),
        # in the same form as term_idfs so that both give the same bits.
        return math.log(self.documents + PRIOR_DOCUMENTS) + 1.0 - math.log(df + PRIOR_DOCUMENTS * prior_rate)

    def term_idfs(self, terms: Iterable[str]) -> dict[str, float]:
        """IDF of each term. An article weighs a few hundred terms (its text and its paragraphs),
        so this is one loop over locals rather than a call per term."""
        base = math.log(self.documents + PRIOR_DOCUMENTS) + 1.0
        counts, rates, log = self.terms, self.prior.rates, math.log
        return {t: base - log(counts.get(t, 0) + PRIOR_DOCUMENTS * rates[t]) for t in terms}

    def entity_idf(self, entity: str) -> float:
        return self._idf(self.entities.get(entity, 0), ENTITY_PRIOR_RATE)

    def only(self, article: ArticleFeatures) -> DocumentFrequencies:
        """These frequencies narrowed to the article's own terms and entities."""
        return DocumentFrequencies(self.documents, {t: self.terms[t] for t in article.terms if t in self.terms},
                                   {e: self.entities[e] for e in article.entities if e in self.entities}, self.prior)

    def entity_information(self, entity: str) -> float:
        """log(1 / rate): near nothing for an entity in most documents, about 4 for one in 2 %."""
        return self.entity_idf(entity) - 1.0


@dataclass(frozen=True)
class Scored:
    event_id: str
    score: float
    text: float
    passages: float
    entities: float
    time: float


def _tfidf(terms: Mapping[str, float], idf: Mapping[str, float]) -> dict[str, float]:
    log = math.log
    return {t: (1.0 + log(w)) * idf[t] for t, w in terms.items() if w > 0}


def _unit(vector: Mapping[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(w * w for w in vector.values()))
    return {t: w / norm for t, w in vector.items()} if norm else {}


def _dot(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    # Vectors share few terms: intersecting the key views (in C) beats looking up every term.
    return sum(a[t] * b[t] for t in a.keys() & b.keys())


@dataclass(frozen=True)
class PreparedArticle:
    """An article's weighted vectors, computed once and compared with every candidate."""

    features: ArticleFeatures
    text: dict[str, float]
    passages: list[dict[str, float]]
    entity_weights: dict[str, float]
    # term -> [(passage number, weight)]: an event's passage is compared with all of the article's
    # at once, touching only the terms they share.
    passage_index: dict[str, list[tuple[int, float]]] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        for number, passage in enumerate(self.passages):
            for term, weight in passage.items():
                self.passage_index.setdefault(term, []).append((number, weight))


def prepare(article: ArticleFeatures, df: DocumentFrequencies) -> PreparedArticle:
    idf = df.term_idfs(article.terms.keys() | set().union(*article.passages))
    return PreparedArticle(
        article,
        _unit(_tfidf(article.terms, idf)),
        [_unit(_tfidf(p, idf)) for p in article.passages],
        {e: df.entity_information(e) * (0.5 + 0.5 * s) for e, s in article.entities.items()},
    )


# Stored weights are rounded: four decimals change no decision and halve the size of a record.
_DECIMALS = 4


def _rounded(vector: Mapping[str, float]) -> dict[str, float]:
    return {t: round(w, _DECIMALS) for t, w in vector.items()}


@dataclass
class EventProfile:
    event_id: str
    terms: dict[str, float] = field(default_factory=dict)  # sum of the members' unit TF-IDF vectors
    entities: dict[str, int] = field(default_factory=dict)  # canonical_id -> member articles mentioning it
    article_count: int = 0
    first_ts: float = 0.0
    last_ts: float = 0.0
    passages: list[dict[str, float]] = field(default_factory=list)  # unit TF-IDF vectors of paragraphs

    def absorb(self, article: PreparedArticle) -> None:
        features = article.features
        # Oldest passages give way to new ones: the event's vocabulary follows the story as it moves.
        self.passages = [*self.passages, *(_rounded(p) for p in article.passages)][-EVENT_MAX_PASSAGES:]
        self._add_terms(article.text)
        for entity in features.entities:
            self.entities[entity] = self.entities.get(entity, 0) + 1
        self.first_ts = min(self.first_ts, features.timestamp) if self.article_count else features.timestamp
        self.last_ts = max(self.last_ts, features.timestamp) if self.article_count else features.timestamp
        self.article_count += 1

    def merge(self, other: EventProfile) -> None:
        """Take in everything ``other`` has seen (it is being absorbed into this event)."""
        self._add_terms(other.terms)
        for entity, count in other.entities.items():
            self.entities[entity] = self.entities.get(entity, 0) + count
        self.passages = [*self.passages, *other.passages][-EVENT_MAX_PASSAGES:]
        self.first_ts = min(self.first_ts, other.first_ts)
        self.last_ts = max(self.last_ts, other.last_ts)
        self.article_count += other.article_count

    @cached_property
    def norm(self) -> float:
        """Length of the centroid (computed once: a candidate is compared with many articles)."""
        return math.sqrt(sum(w * w for w in self.terms.values()))

    def _add_terms(self, vector: Mapping[str, float]) -> None:
        self.__dict__.pop("norm", None)
        terms = self.terms
        for term, weight in vector.items():
            terms[term] = round(terms.get(term, 0.0) + weight, _DECIMALS)
        if len(terms) > EVENT_MAX_TERMS:
            self.terms = dict(sorted(terms.items(), key=lambda item: (-item[1], item[0]))[:EVENT_MAX_TERMS])

    def as_article(self, df: DocumentFrequencies) -> PreparedArticle:
        """The event seen as one long article, to compare two events with :func:`score`."""
        features = ArticleFeatures(self.event_id, "", self.last_ts, {}, dict.fromkeys(self.entities, 1.0), None)
        return PreparedArticle(features, _unit(self.terms), list(self.passages),
                               {e: df.entity_information(e) for e in self.entities})

    def to_json(self) -> dict[str, object]:
        return {"event_id": self.event_id, "terms": self.terms, "entities": self.entities,
                "article_count": self.article_count, "first_ts": self.first_ts, "last_ts": self.last_ts,
                "passages": self.passages}


def passage_similarity(article: PreparedArticle, event: EventProfile) -> float:
    """The best cosine between one of the article's paragraphs and one of the event's."""
    index = article.passage_index
    if not index:
        return 0.0
    best = 0.0
    for passage in event.passages:
        shared = passage.keys() & index.keys()
        if not shared:
            continue
        sums = [0.0] * len(article.passages)
        for term in shared:
            weight = passage[term]
            for number, mine in index[term]:
                sums[number] += weight * mine
        best = max(best, *sums)
    return best


def text_similarity(article: PreparedArticle, event: EventProfile) -> float:
    norm = event.norm
    return _dot(article.text, event.terms) / norm if norm else 0.0


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
    return shared / (total + ENTITY_EVIDENCE)


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
    text = text_similarity(prepared, event)
    passages = passage_similarity(prepared, event)
    entities = entity_overlap(prepared, event)
    decay = time_factor(prepared.features, event)
    total = decay * (PASSAGE_WEIGHT * passages + TEXT_WEIGHT * text + ENTITY_WEIGHT * entities)
    return Scored(event.event_id, total, text, passages, entities, decay)


# Passage similarity is the costly signal; it is computed only for the candidates that the cheap
# signals (whole-text cosine, shared entities) rank highest.
PASSAGE_CANDIDATES = 8


def matching_events(article: ArticleFeatures | PreparedArticle, candidates: Iterable[EventProfile],
                    df: DocumentFrequencies, threshold: float) -> list[Scored]:
    """Candidates scoring at or above ``threshold``, best first; ties go to the smaller id (determinism)."""
    prepared = article if isinstance(article, PreparedArticle) else prepare(article, df)
    events = list(candidates)
    if len(events) > PASSAGE_CANDIDATES:
        def cheap(event: EventProfile) -> tuple[float, str]:
            text = text_similarity(prepared, event)
            return (-(TEXT_WEIGHT * text + ENTITY_WEIGHT * entity_overlap(prepared, event)), event.event_id)

        events = sorted(events, key=cheap)[:PASSAGE_CANDIDATES]
    scored = [score(prepared, event, df) for event in events]
    return sorted((s for s in scored if s.score >= threshold), key=lambda s: (-s.score, s.event_id))


# Two events are one story told in two halves when an article tells both in full: it matches the
# other event at twice the joining threshold, and as a whole text rather than through one shared
# paragraph, and the two events are also this close to each other (as a share of the threshold).
# Weaker bridges were the common case on a real news day (a digest of the day's official news
# shares a paragraph with every story it lists) and each such merge widened the event's net for
# the next one, until one event held a day of unrelated official news.
MERGE_BRIDGE_FACTOR = 2.0
MERGE_BRIDGE_TEXT = 0.3
MERGE_EVENT_FLOOR = 0.6


def events_to_merge(best: EventProfile, others: Iterable[tuple[EventProfile, Scored]], df: DocumentFrequencies,
                    threshold: float) -> list[EventProfile]:
    """Which other matching events (each with the article's score against it) the best one should absorb."""
    return [other for other, match in others
            if match.score >= MERGE_BRIDGE_FACTOR * threshold and match.text >= MERGE_BRIDGE_TEXT
            and score(other.as_article(df), best, df).score >= MERGE_EVENT_FLOOR * threshold]


def survivor_of(events: Iterable[EventProfile]) -> EventProfile:
    """The event that lives on after a merge: the oldest (ties: the smaller id), so merges are deterministic."""
    return min(events, key=lambda e: (e.first_ts, e.event_id))


def retrieval_keys(article: PreparedArticle, df: DocumentFrequencies, limit: int = 8) -> tuple[list[str], list[str]]:
    """The rarest entities and the strongest terms (by the article's TF-IDF weights): what the
    inverted index is asked about.

    Asking only about a bounded number of keys keeps the cost per article flat however many
    events are active.
    """
    salience = article.features.entities
    entities = sorted(salience, key=lambda e: (-df.entity_idf(e) * (0.5 + salience[e]), e))
    weighted = article.text
    terms = sorted(weighted, key=lambda t: (-weighted[t], t))
    return entities[:limit], terms[:limit]


def index_terms(event: EventProfile, limit: int = 12) -> list[str]:
    """The event's most characteristic terms, under which the inverted index files it."""
    return sorted(event.terms, key=lambda t: (-event.terms[t], t))[:limit]


def most_posted(postings: Iterable[Iterable[str]], limit: int) -> list[str]:
    """The events filed under most of the given postings (each a list of event ids), most first,
    ties by id, at most ``limit``: an event that shares many of the article's rare keys is the
    likeliest home."""
    hits: dict[str, int] = {}
    for posting in postings:
        for event_id in posting:
            hits[event_id] = hits.get(event_id, 0) + 1
    return [event_id for event_id, _ in sorted(hits.items(), key=lambda item: (-item[1], item[0]))[:limit]]


@dataclass(frozen=True)
class Decision:
    target: str | None  # None: open a new event
    absorb: tuple[str, ...] = ()
    syndicated: bool = False


def choose_event(article: PreparedArticle, candidates: Iterable[EventProfile], original: EventProfile | None,
                 df: DocumentFrequencies, threshold: float) -> Decision:
    """Where the article goes: its original's event when it is a copy that also reads like that
    event (a page whose text is mostly its site's chrome can look like a copy), else the best
    matching candidate, absorbing the other candidates it proves to be the same story."""
    if original is not None and matching_events(article, [original], df, threshold):
        return Decision(original.event_id, syndicated=True)
    by_id = {profile.event_id: profile for profile in candidates}
    matches = matching_events(article, by_id.values(), df, threshold)
    if not matches:
        return Decision(None)
    best = by_id[matches[0].event_id]
    absorbed = events_to_merge(best, [(by_id[m.event_id], m) for m in matches[1:]], df, threshold)
    survivor = survivor_of([best, *absorbed])
    return Decision(survivor.event_id, tuple(sorted(e.event_id for e in [best, *absorbed] if e is not survivor)))
