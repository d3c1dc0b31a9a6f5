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

from .clustering import DocumentFrequencies, EventProfile, best_event, index_terms, retrieval_keys
from .features import ArticleFeatures
from .updates import EventRecord, event_id_for, update_message

MAX_CANDIDATES = 25
ARTICLE_TTL_SECONDS = 30 * 86400


@dataclass(frozen=True)
class Assignment:
    event_id: str
    update: dict[str, Any]
    created: bool
    repeated: bool  # the article had been assigned before (a redelivery): nothing changed


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
                    return Assignment(done, update_message(done, record), False, True)
            df = await self.frequencies(features)
            target, syndicated = await self._choose(features, df)
            try:
                return await self._commit(article, features, df, target, syndicated)
            except WatchError:
                continue  # another worker changed the event or took the article: decide again

    async def _choose(self, features: ArticleFeatures, df: DocumentFrequencies) -> tuple[str | None, bool]:
        if features.duplicate_of:
            original_event = await self.client.get(self._article(features.duplicate_of))
            if original_event:
                return original_event, True
        best = best_event(features, await self.candidates(features, df), df, self.threshold)
        return (best.event_id if best else None), False

    async def _commit(self, article: dict[str, Any], features: ArticleFeatures, df: DocumentFrequencies,
                      target: str | None, syndicated: bool) -> Assignment:
        event_id = target or event_id_for(features.article_id)
        article_key, event_key = self._article(features.article_id), self._event(event_id)
        async with self.client.pipeline(transaction=True) as pipe:
            await pipe.watch(article_key, event_key)
            if await pipe.get(article_key):
                raise WatchError("article assigned meanwhile")
            raw = await pipe.get(event_key)
            record = EventRecord.from_json(json.loads(raw)) if raw else EventRecord(EventProfile(event_id))
            created = raw is None
            record.add(article, features, syndicated)
            update = update_message(event_id, record)
            pipe.multi()
            pipe.set(event_key, json.dumps(record.to_json(), ensure_ascii=False))
            pipe.set(article_key, event_id, ex=ARTICLE_TTL_SECONDS)
            pipe.incr(self.keys("ev", "df", "documents"))
            for term in features.terms:
                pipe.hincrby(self.keys("ev", "df", "terms"), term, 1)
            for entity in features.entities:
                pipe.hincrby(self.keys("ev", "df", "entities"), entity, 1)
                pipe.sadd(self._index("e", entity), event_id)
            for term in index_terms(record.profile, df):
                pipe.sadd(self._index("t", term), event_id)
            pipe.zadd(self._active, {event_id: record.profile.last_ts})
            await pipe.execute()
        return Assignment(event_id, update, created, False)

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
