"""Event state in Redis: assignments, event records, the inverted index, rolling frequencies, trends.

Every change an article causes is written in one optimistic transaction (WATCH/MULTI/EXEC) that
also records the article as done. A redelivered article finds that record and changes nothing; a
worker killed before EXEC left nothing behind; two workers racing for one event retry.

Nothing grows without bound: events leave hot state when they go dormant or are merged (their
records then expire), index postings are removed with them, document frequencies are kept per day
and expire, trend buckets expire after a day, and article assignments expire after a month.

Keys (under the configured prefix):
  ev:article:<article>   event id the article is in
  ev:event:<event>       the event record (profile, version, status, entities) as JSON
  ev:members:<event>     the event's member articles (a list of JSON entries)
  ev:active              hot events, scored by their last article time
  ev:versions            hot events' record versions, so a worker re-reads only records that changed
  ev:idx:{e,t}:<key>     postings of the inverted index: events scored by last article time
  ev:df:<day>:*          document frequencies of one day (documents, terms, entities)
  ev:clock               the stream's clock: the newest article time seen
  tr:b:<bucket>          entity mentions in one five-minute bucket; tr:n:<entity> its type and name
"""

from __future__ import annotations

import itertools
import json
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis import Redis
from redis.exceptions import WatchError

from services.common.clock import iso
from services.common.redis_store import Keys

from . import lua
from .clustering import (
    DocumentFrequencies,
    EventProfile,
    PreparedArticle,
    events_to_merge,
    index_terms,
    matching_events,
    prepare,
    retrieval_keys,
    survivor_of,
)
from .features import ArticleFeatures
from .trends import (
    BUCKET_TTL_SECONDS,
    WINDOWS,
    bucket_of,
    buckets_in,
    rising,
    snapshot_message,
    window_counts,
)
from .updates import EventRecord, event_id_for, update_message

MAX_CANDIDATES = 20
# Only the most recently active events under one index key are candidates: a common name (سوريا)
# files thousands of events, and reading them all would make cost grow with the number of events.
POSTINGS_PER_KEY = 40
ARTICLE_TTL_SECONDS = 30 * 86400
RETIRED_TTL_SECONDS = 30 * 86400
CACHED_PROFILES = 4096
DF_DAYS = 7
DORMANT_BATCH = 200


@dataclass(frozen=True)
class Assignment:
    event_id: str
    # Every event update this article caused, in order: absorbed events' final `merged` updates
    # first, then the event the article is in.
    updates: list[tuple[str, dict[str, Any]]]
    created: bool
    merged: int
    repeated: bool  # the article had been assigned before (a redelivery): nothing changed


@dataclass(frozen=True)
class Decision:
    target: str | None  # None: open a new event
    absorb: tuple[str, ...] = ()
    syndicated: bool = False


class EventStore:
    def __init__(self, client: aioredis.Redis, keys: Keys, threshold: float) -> None:
        self.client = client
        self.keys = keys
        self.threshold = threshold
        self.window_totals: dict[str, int] = {}  # entity mentions per trend window, at the last snapshot
        # event id -> (version, profile or None when inactive), most recently used last
        self._profiles: OrderedDict[str, tuple[int, EventProfile | None]] = OrderedDict()

    # -- keys --------------------------------------------------------------------------------------

    def _article(self, article_id: str) -> str:
        return self.keys("ev", "article", article_id)

    def _event(self, event_id: str) -> str:
        return self.keys("ev", "event", event_id)

    def _members(self, event_id: str) -> str:
        return self.keys("ev", "members", event_id)

    def _index(self, kind: str, value: str) -> str:
        return self.keys("ev", "idx", kind, value)

    def _df(self, day: int, kind: str) -> str:
        return self.keys("ev", "df", str(day), kind)

    @property
    def _active(self) -> str:
        return self.keys("ev", "active")

    @property
    def _versions(self) -> str:
        return self.keys("ev", "versions")

    @property
    def _clock(self) -> str:
        return self.keys("ev", "clock")

    # -- reading -----------------------------------------------------------------------------------

    async def load(self, event_id: str, *, members: bool = True, via: Any = None) -> EventRecord | None:
        """The event's record, read through ``via`` when given (a pipeline watching the record)."""
        client = via if via is not None else self.client
        raw = await client.get(self._event(event_id))
        if not raw:
            return None
        listed = await client.lrange(self._members(event_id), 0, -1) if members else []
        return EventRecord.stored(raw, listed)

    def _sum_frequencies(self, pipe: Any, features: ArticleFeatures) -> tuple[list[str], list[str]]:
        """Queue the rolling document frequencies of the article's terms and entities over the last
        DF_DAYS days; returns the terms and entities in the order the counts will come back."""
        terms, entities = sorted(features.terms), sorted(features.entities)
        day = int(features.timestamp // 86400)
        keys = [self._df(d, kind) for d in range(day - DF_DAYS + 1, day + 1)
                for kind in ("documents", "terms", "entities")]
        pipe.eval(lua.SUM_FREQUENCIES, len(keys), *keys, len(terms), *terms, *entities)
        return terms, entities

    @staticmethod
    def _frequencies_from(terms: list[str], entities: list[str], counts: list[int]) -> DocumentFrequencies:
        documents, term_counts, entity_counts = counts[0], counts[1:1 + len(terms)], counts[1 + len(terms):]
        return DocumentFrequencies(int(documents), {t: int(c) for t, c in zip(terms, term_counts, strict=True) if c},
                                   {e: int(c) for e, c in zip(entities, entity_counts, strict=True) if c})

    async def candidates(self, features: ArticleFeatures, df: DocumentFrequencies) -> list[EventProfile]:
        entity_keys, term_keys = retrieval_keys(features, df)
        index_keys = [self._index("e", e) for e in entity_keys] + [self._index("t", t) for t in term_keys]
        if not index_keys:
            return []
        found = await self.client.eval(lua.MOST_POSTED, len(index_keys) + 1, *index_keys, self._versions,
                                       POSTINGS_PER_KEY, MAX_CANDIDATES)
        chosen = list(zip(found[::2], found[1::2], strict=True))
        stale = [event_id for event_id, version in chosen if not self._fresh(event_id, version)]
        if stale:
            for event_id, raw in zip(stale, await self.client.mget([self._event(e) for e in stale]), strict=True):
                self._remember(EventRecord.stored(raw) if raw else None, event_id)
        profiles = []
        for event_id, _ in chosen:
            entry = self._profiles.get(event_id)
            if entry is not None and entry[1] is not None:
                profiles.append(entry[1])
        return profiles

    def _fresh(self, event_id: str, version: str) -> bool:
        """Whether the cached profile is of the stored ``version``. A busy event is a candidate for
        many articles in a row: reading and parsing its record for each was most of the cost of
        retrieval. Cached profiles are only read, never changed."""
        entry = self._profiles.get(event_id)
        if entry is None or not version or str(entry[0]) != version:
            return False
        self._profiles.move_to_end(event_id)
        return True

    def _remember(self, record: EventRecord | None, event_id: str) -> None:
        self._profiles[event_id] = (record.version if record else -1,
                                    record.profile if record is not None and record.active else None)
        self._profiles.move_to_end(event_id)
        if len(self._profiles) > CACHED_PROFILES:
            self._profiles.popitem(last=False)

    # -- assigning ---------------------------------------------------------------------------------

    async def assign(self, article: dict[str, Any], features: ArticleFeatures) -> Assignment:
        article_key = self._article(features.article_id)
        while True:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.get(article_key)
                asked = self._sum_frequencies(pipe, features)
                done, counts = await pipe.execute()
            if done:
                record = await self.load(done)
                if record is not None:
                    return Assignment(done, [(done, update_message(done, record))], False, 0, True)
            df = self._frequencies_from(*asked, counts)
            prepared = prepare(features, df)
            decision = await self._decide(prepared, df)
            try:
                return await self._commit(article, prepared, df, decision)
            except WatchError:
                continue  # another worker changed an event or took the article: decide again

    async def _decide(self, prepared: PreparedArticle, df: DocumentFrequencies) -> Decision:
        features = prepared.features
        if features.duplicate_of:
            original_event = await self.client.get(self._article(features.duplicate_of))
            if original_event:
                record = await self.load(original_event, members=False)
                # Trust, but verify: a copy joins its original's event only if it also reads like
                # that event (a page whose text is mostly its site's chrome can look like a copy).
                if record is not None and record.active and matching_events(
                        prepared, [record.profile], df, self.threshold):
                    return Decision(original_event, syndicated=True)
        candidates = {p.event_id: p for p in await self.candidates(features, df)}
        matches = matching_events(prepared, candidates.values(), df, self.threshold)
        if not matches:
            return Decision(None)
        best = candidates[matches[0].event_id]
        absorbed = events_to_merge(best, [(candidates[m.event_id], m) for m in matches[1:]], df,
                                   self.threshold)
        survivor = survivor_of([best, *absorbed])
        others = tuple(sorted(e.event_id for e in [best, *absorbed] if e is not survivor))
        return Decision(survivor.event_id, others)

    async def _commit(self, article: dict[str, Any], prepared: PreparedArticle, df: DocumentFrequencies,
                      decision: Decision) -> Assignment:
        features = prepared.features
        event_id = decision.target or event_id_for(features.article_id)
        article_key, event_key = self._article(features.article_id), self._event(event_id)
        absorbed_keys = [self._event(e) for e in decision.absorb]
        async with self.client.pipeline(transaction=True) as pipe:
            await pipe.watch(article_key, event_key, *absorbed_keys)
            # Read in one round trip on another connection: what is watched cannot change unseen
            # between these reads and EXEC, whoever changes it.
            async with self.client.pipeline(transaction=False) as reads:
                reads.get(article_key)
                for key in (event_id, *decision.absorb):
                    reads.get(self._event(key))
                    reads.lrange(self._members(key), 0, -1)
                assigned, *stored = await reads.execute()
            if assigned:
                raise WatchError("article assigned meanwhile")
            record, *others = [EventRecord.stored(raw, members) if raw else None
                               for raw, members in zip(stored[::2], stored[1::2], strict=True)]
            created = record is None
            if record is None:
                record = EventRecord(EventProfile(event_id))
            elif not record.active:
                raise WatchError("event retired meanwhile")
            absorbed = [r for r in others if r and r.active]
            updates: list[tuple[str, dict[str, Any]]] = []
            pipe.multi()
            for other in absorbed:
                other_id = other.profile.event_id
                record.absorb_event(other)
                other.mark_merged(event_id)
                updates.append((other_id, update_message(other_id, other)))
                if other.members:
                    pipe.rpush(self._members(event_id), *[json.dumps(m, ensure_ascii=False) for m in other.members])
                for member in other.members:
                    pipe.set(self._article(member["article_id"]), event_id, ex=ARTICLE_TTL_SECONDS)
                self._retire(pipe, other)
            member = record.add(article, prepared, decision.syndicated)
            touched = set(features.entities) | {e for other in absorbed for e in other.profile.entities}
            self._index_event(pipe, record, df, touched)
            updates.append((event_id, update_message(event_id, record)))
            pipe.set(event_key, json.dumps(record.to_json(), ensure_ascii=False))
            pipe.hset(self._versions, event_id, record.version)
            pipe.rpush(self._members(event_id), json.dumps(member, ensure_ascii=False))
            pipe.set(article_key, event_id, ex=ARTICLE_TTL_SECONDS)
            pipe.zadd(self._active, {event_id: record.profile.last_ts})
            pipe.zadd(self._clock, {"t": features.timestamp}, gt=True)
            self._count(pipe, article, features)
            await pipe.execute()
        for changed in (record, *absorbed):
            self._remember(changed, changed.profile.event_id)
        return Assignment(event_id, updates, created, len(absorbed), False)

    def _index_event(self, pipe: Any, record: EventRecord, df: DocumentFrequencies,
                     touched_entities: Iterable[str]) -> None:
        """File the event under its characteristic terms and the entities the new article brought.

        Postings are scored by the event's last article time (that is what the recency cap reads),
        so the keys touched now are refreshed; older postings keep an older score, which only makes
        the event less likely to be read under a crowded key it no longer leads."""
        event_id, last_ts = record.profile.event_id, record.profile.last_ts
        terms = sorted(set(record.indexed_terms) | set(index_terms(record.profile)))
        record.indexed_terms = terms
        postings = [self._index("e", e) for e in sorted(touched_entities)] + [self._index("t", t) for t in terms]
        if postings:
            pipe.eval(lua.ZADD_TO_EACH, len(postings), *postings, last_ts, event_id)

    def _retire(self, pipe: Any, record: EventRecord) -> None:
        """Take an event out of hot state; its record and members expire later."""
        event_id = record.profile.event_id
        pipe.zrem(self._active, event_id)
        pipe.hdel(self._versions, event_id)
        postings = ([self._index("e", e) for e in sorted(record.profile.entities)]
                    + [self._index("t", t) for t in record.indexed_terms])
        if postings:
            pipe.eval(lua.ZREM_FROM_EACH, len(postings), *postings, event_id)
        pipe.set(self._event(event_id), json.dumps(record.to_json(), ensure_ascii=False), ex=RETIRED_TTL_SECONDS)
        pipe.expire(self._members(event_id), RETIRED_TTL_SECONDS)

    def _count(self, pipe: Any, article: dict[str, Any], features: ArticleFeatures) -> None:
        """Document frequencies and trend buckets: counted once, in the transaction that assigns."""
        day = int(features.timestamp // 86400)
        ttl = (DF_DAYS + 2) * 86400
        pipe.incr(self._df(day, "documents"))
        pipe.expire(self._df(day, "documents"), ttl)
        for kind, keys in (("terms", features.terms), ("entities", features.entities)):
            if keys:
                self._hincrby_many(pipe, self._df(day, kind), dict.fromkeys(sorted(keys), 1), ttl)
        entities = article.get("entities", [])
        if entities:
            bucket = self.keys("tr", "b", str(bucket_of(features.timestamp)))
            self._hincrby_many(pipe, bucket, {e["canonical_id"]: e["count"] for e in entities}, BUCKET_TTL_SECONDS)
            names = [self.keys("tr", "n", e["canonical_id"]) for e in entities]
            pipe.eval(lua.SET_EACH_WITH_TTL, len(names), *names, BUCKET_TTL_SECONDS,
                      *(json.dumps([e["type"], e["canonical_name"]], ensure_ascii=False) for e in entities))

    @staticmethod
    def _hincrby_many(pipe: Any, key: str, increments: dict[str, int], ttl: int) -> None:
        pipe.eval(lua.HINCRBY_MANY, 1, key, ttl, *itertools.chain.from_iterable(increments.items()))

    # -- housekeeping ------------------------------------------------------------------------------

    async def stream_clock(self) -> float | None:
        return await self.client.zscore(self._clock, "t")

    async def retire_dormant(self, quiet_seconds: float) -> list[tuple[str, dict[str, Any]]]:
        """Events quiet for ``quiet_seconds`` of stream time go dormant; returns their final updates."""
        clock = await self.stream_clock()
        if clock is None:
            return []
        stale = await self.client.zrangebyscore(self._active, "-inf", clock - quiet_seconds, start=0,
                                                num=DORMANT_BATCH)
        updates = []
        for event_id in stale:
            try:
                async with self.client.pipeline(transaction=True) as pipe:
                    await pipe.watch(self._event(event_id))
                    record = await self.load(event_id, via=pipe)
                    if record is None or not record.active:
                        continue
                    record.mark_dormant()
                    pipe.multi()
                    self._retire(pipe, record)
                    await pipe.execute()
                self._remember(record, event_id)
                updates.append((event_id, update_message(event_id, record)))
            except WatchError:
                continue  # an article just joined it: not dormant after all
        return updates

    async def trend_snapshot(self) -> dict[str, Any] | None:
        clock = await self.stream_clock()
        if clock is None:
            return None
        now_bucket = bucket_of(clock)
        span = list(buckets_in("24h", now_bucket))
        async with self.client.pipeline(transaction=False) as pipe:
            for bucket in span:
                pipe.hgetall(self.keys("tr", "b", str(bucket)))
            rows = await pipe.execute()
        buckets = {b: {k: int(v) for k, v in row.items()} for b, row in zip(span, rows, strict=True) if row}
        self.window_totals = {w: sum(c.values()) for w, c in window_counts(buckets, now_bucket).items()}
        trends = rising(buckets, now_bucket)
        names: dict[str, tuple[str, str]] = {}
        if trends:
            raws = await self.client.mget([self.keys("tr", "n", t.canonical_id) for t in trends])
            for trend, raw in zip(trends, raws, strict=True):
                if raw:
                    entity_type, name = json.loads(raw)
                    names[trend.canonical_id] = (entity_type, name)
        snapshot = snapshot_message(trends, names, now_bucket, iso())
        await self.client.set(self.keys("tr", "latest"), json.dumps(snapshot, ensure_ascii=False),
                              ex=WINDOWS["24h"])
        return snapshot

    async def active_count(self) -> int:
        return int(await self.client.zcard(self._active))


def current_events(client: Redis, keys: Keys, limit: int | None = None) -> list[dict[str, Any]]:
    """The current update of every event in hot state, most recently active first (sync, for the CLI)."""
    ids = client.zrevrange(keys("ev", "active"), 0, -1 if limit is None else limit - 1)
    updates = []
    for start in range(0, len(ids), 200):
        chunk = ids[start:start + 200]
        with client.pipeline(transaction=False) as pipe:
            for event_id in chunk:
                pipe.get(keys("ev", "event", event_id))
                pipe.lrange(keys("ev", "members", event_id), 0, -1)
            rows = pipe.execute()
        for index, event_id in enumerate(chunk):
            raw, members = rows[2 * index], rows[2 * index + 1]
            if raw:
                record = EventRecord.stored(raw, members)
                updates.append(update_message(event_id, record))
    return updates


def latest_trends(client: Redis, keys: Keys) -> dict[str, Any] | None:
    raw = client.get(keys("tr", "latest"))
    return json.loads(raw) if raw else None
