"""Event state in Redis: articles' assignments, event records, the inverted index, rolling frequencies.

Every change an article causes is written in one optimistic transaction (WATCH/MULTI/EXEC) that
also records the article as done. A redelivered article finds that record and changes nothing;
a worker killed before EXEC left nothing behind; two workers racing for one event retry.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis import Redis
from redis.exceptions import WatchError

from services.common.redis_store import Keys

from .clustering import (
    DocumentFrequencies,
    EventProfile,
    events_to_merge,
    index_terms,
    matching_events,
    retrieval_keys,
    survivor_of,
)
from .features import ArticleFeatures
from .updates import EventRecord, event_id_for, update_message

MAX_CANDIDATES = 25
ARTICLE_TTL_SECONDS = 30 * 86400


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

    def _article(self, article_id: str) -> str:
        return self.keys("ev", "article", article_id)

    def _event(self, event_id: str) -> str:
        return self.keys("ev", "event", event_id)

    def _index(self, kind: str, value: str) -> str:
        return self.keys("ev", "idx", kind, value)

    @property
    def _active(self) -> str:
        return self.keys("ev", "active")

    async def load(self, event_id: str) -> EventRecord | None:
        raw = await self.client.get(self._event(event_id))
        return EventRecord.from_json(json.loads(raw)) if raw else None

    async def frequencies(self, features: ArticleFeatures) -> DocumentFrequencies:
        terms = sorted(features.terms)
        entities = sorted(features.entities)
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.get(self.keys("ev", "df", "documents"))
            pipe.hmget(self.keys("ev", "df", "terms"), terms) if terms else pipe.echo("")
            pipe.hmget(self.keys("ev", "df", "entities"), entities) if entities else pipe.echo("")
            documents, term_df, entity_df = await pipe.execute()
        return DocumentFrequencies(
            int(documents or 0),
            {t: int(v) for t, v in zip(terms, term_df or [], strict=False) if v},
            {e: int(v) for e, v in zip(entities, entity_df or [], strict=False) if v},
        )

    async def candidates(self, features: ArticleFeatures, df: DocumentFrequencies) -> list[EventProfile]:
        entity_keys, term_keys = retrieval_keys(features, df)
        index_keys = [self._index("e", e) for e in entity_keys] + [self._index("t", t) for t in term_keys]
        if not index_keys:
            return []
        async with self.client.pipeline(transaction=False) as pipe:
            for key in index_keys:
                pipe.smembers(key)
            hits: Counter[str] = Counter()
            for members in await pipe.execute():
                hits.update(members)
        chosen = [event_id for event_id, _ in sorted(hits.items(), key=lambda i: (-i[1], i[0]))[:MAX_CANDIDATES]]
        if not chosen:
            return []
        records = await self.client.mget([self._event(e) for e in chosen])
        profiles = []
        for raw in records:
            if raw:
                record = EventRecord.from_json(json.loads(raw))
                if record.status not in ("merged", "dormant"):
                    profiles.append(record.profile)
        return profiles

    async def assign(self, article: dict[str, Any], features: ArticleFeatures) -> Assignment:
        article_key = self._article(features.article_id)
        while True:
            done = await self.client.get(article_key)
            if done:
                record = await self.load(done)
                if record is not None:
                    return Assignment(done, [(done, update_message(done, record))], False, 0, True)
            df = await self.frequencies(features)
            decision = await self._decide(features, df)
            try:
                return await self._commit(article, features, df, decision)
            except WatchError:
                continue  # another worker changed an event or took the article: decide again

    async def _decide(self, features: ArticleFeatures, df: DocumentFrequencies) -> Decision:
        if features.duplicate_of:
            original_event = await self.client.get(self._article(features.duplicate_of))
            if original_event:
                return Decision(original_event, syndicated=True)
        candidates = {p.event_id: p for p in await self.candidates(features, df)}
        matches = matching_events(features, candidates.values(), df, self.threshold)
        if not matches:
            return Decision(None)
        best = candidates[matches[0].event_id]
        absorbed = events_to_merge(best, [candidates[m.event_id] for m in matches[1:]], df, self.threshold)
        survivor = survivor_of([best, *absorbed])
        others = tuple(sorted(e.event_id for e in [best, *absorbed] if e is not survivor))
        return Decision(survivor.event_id, others)

    async def _commit(self, article: dict[str, Any], features: ArticleFeatures, df: DocumentFrequencies,
                      decision: Decision) -> Assignment:
        event_id = decision.target or event_id_for(features.article_id)
        article_key, event_key = self._article(features.article_id), self._event(event_id)
        absorbed_keys = [self._event(e) for e in decision.absorb]
        async with self.client.pipeline(transaction=True) as pipe:
            await pipe.watch(article_key, event_key, *absorbed_keys)
            if await pipe.get(article_key):
                raise WatchError("article assigned meanwhile")
            raw = await pipe.get(event_key)
            record = EventRecord.from_json(json.loads(raw)) if raw else EventRecord(EventProfile(event_id))
            absorbed: list[tuple[str, EventRecord]] = []
            for other_id, other_key in zip(decision.absorb, absorbed_keys, strict=True):
                other_raw = await pipe.get(other_key)
                if other_raw:
                    absorbed.append((other_id, EventRecord.from_json(json.loads(other_raw))))
            updates: list[tuple[str, dict[str, Any]]] = []
            pipe.multi()
            for other_id, other in absorbed:
                record.absorb_event(other)
                other.mark_merged(event_id)
                updates.append((other_id, update_message(other_id, other)))
                self._retire(pipe, other_id, other, df)
                pipe.set(self._event(other_id), json.dumps(other.to_json(), ensure_ascii=False),
                         ex=ARTICLE_TTL_SECONDS)
                for member in other.members:
                    pipe.set(self._article(member["article_id"]), event_id, ex=ARTICLE_TTL_SECONDS)
            created = raw is None
            record.add(article, features, decision.syndicated)
            updates.append((event_id, update_message(event_id, record)))
            pipe.set(event_key, json.dumps(record.to_json(), ensure_ascii=False))
            pipe.set(article_key, event_id, ex=ARTICLE_TTL_SECONDS)
            pipe.incr(self.keys("ev", "df", "documents"))
            for term in features.terms:
                pipe.hincrby(self.keys("ev", "df", "terms"), term, 1)
            for entity in features.entities:
                pipe.hincrby(self.keys("ev", "df", "entities"), entity, 1)
            for entity in record.profile.entities:
                pipe.sadd(self._index("e", entity), event_id)
            for term in index_terms(record.profile, df):
                pipe.sadd(self._index("t", term), event_id)
            pipe.zadd(self._active, {event_id: record.profile.last_ts})
            await pipe.execute()
        return Assignment(event_id, updates, created, len(absorbed), False)

    def _retire(self, pipe: Any, event_id: str, record: EventRecord, df: DocumentFrequencies) -> None:
        """Take an event out of hot state: the active set and every index entry that names it."""
        pipe.zrem(self._active, event_id)
        for entity in record.profile.entities:
            pipe.srem(self._index("e", entity), event_id)
        for term in index_terms(record.profile, df):
            pipe.srem(self._index("t", term), event_id)

    async def active_count(self) -> int:
        return int(await self.client.zcard(self._active))


def current_events(client: Redis, keys: Keys, limit: int | None = None) -> list[dict[str, Any]]:
    """The current update of every event in hot state, most recently active first (sync, for the CLI)."""
    ids = client.zrevrange(keys("ev", "active"), 0, -1 if limit is None else limit - 1)
    updates = []
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for event_id, raw in zip(chunk, client.mget([keys("ev", "event", i) for i in chunk]), strict=True):
            if raw:
                updates.append(update_message(event_id, EventRecord.from_json(json.loads(raw))))
    return updates
