"""Event state in Redis: assignments, event records, the inverted index, rolling frequencies, trends.

Every change a batch of articles causes is written in one optimistic transaction (WATCH/MULTI/EXEC)
that also records the articles as done. A redelivered article finds that record and changes
nothing; a worker killed before EXEC left nothing behind; two workers racing for one event retry
the batch. Within a batch each article is decided against what the earlier ones changed
(pending.py), so batching changes the cost, not the outcome.

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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
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
    choose_event,
    index_terms,
    most_posted,
    prepare,
    retrieval_keys,
)
from .features import ArticleFeatures
from .pending import DF_DAYS, PendingChanges
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
# Whole records (members too) of the events this worker changed last: the next article of a busy
# story finds its event here instead of reading and parsing its member list again.
CACHED_RECORDS = 256
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



@dataclass
class _Item:
    """One article of a batch, as far as it has been read and weighed."""

    article: dict[str, Any]
    features: ArticleFeatures
    done: str | None = None  # the event it is in already (a redelivery): nothing changes
    again: bool = False  # an earlier message of the same batch carried it
    df: DocumentFrequencies | None = None
    prepared: PreparedArticle | None = None  # None: the article is not to be placed
    index_keys: list[str] = field(default_factory=list)
    stored_candidates: list[str] = field(default_factory=list)  # its candidates as Redis holds them
    original_event: str | None = None  # for a copy: the event its original is in, as stored


@dataclass(frozen=True)
class _Stored:
    """An event as stored: its version, its record's JSON and its members' JSON entries."""

    version: int
    raw: str
    members: list[str]


@dataclass
class _BatchRead:
    """What a batch read: postings of the inverted index (most recent first, as ZREVRANGE gives
    them) and how deep each was read, the stored versions of the events it checked, and the
    member lists it loaded."""

    postings: dict[str, list[str]] = field(default_factory=dict)  # key -> [event id, score, ...]
    depths: dict[str, int] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    member_lists: dict[str, list[str]] = field(default_factory=dict)


class EventStore:
    def __init__(self, client: aioredis.Redis, keys: Keys, threshold: float) -> None:
        self.client = client
        self.keys = keys
        self.threshold = threshold
        self.window_totals: dict[str, int] = {}  # entity mentions per trend window, at the last snapshot
        # event id -> (version, profile or None when inactive), most recently used last; cached
        # profiles are only read, never changed
        self._profiles: OrderedDict[str, tuple[int, EventProfile | None]] = OrderedDict()
        self._stored: OrderedDict[str, _Stored] = OrderedDict()  # event id -> as stored, most recently used last

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

    async def load(self, event_id: str, *, via: Any = None) -> EventRecord | None:
        """The event's record, read through ``via`` when given (a pipeline watching the record)."""
        client = via if via is not None else self.client
        raw = await client.get(self._event(event_id))
        if not raw:
            return None
        return EventRecord.stored(raw, await client.lrange(self._members(event_id), 0, -1))

    def _sum_frequencies(self, pipe: Any, day: int, features: Sequence[ArticleFeatures]) -> tuple[list[str], list[str]]:
        """Queue the rolling document frequencies, over the DF_DAYS days up to ``day``, of every
        term and entity of these articles (asked once however many of them share it); returns the
        terms and entities in the order the counts will come back."""
        terms = sorted({t for f in features for t in f.terms})
        entities = sorted({e for f in features for e in f.entities})
        keys = [self._df(d, kind) for d in range(day - DF_DAYS + 1, day + 1)
                for kind in ("documents", "terms", "entities")]
        pipe.eval(lua.SUM_FREQUENCIES, len(keys), *keys, len(terms), *terms, *entities)
        return terms, entities

    @staticmethod
    def _frequencies_from(terms: list[str], entities: list[str], counts: list[int]) -> DocumentFrequencies:
        documents, term_counts, entity_counts = counts[0], counts[1:1 + len(terms)], counts[1 + len(terms):]
        return DocumentFrequencies(int(documents), {t: int(c) for t, c in zip(terms, term_counts, strict=True) if c},
                                   {e: int(c) for e, c in zip(entities, entity_counts, strict=True) if c})

    def _remember(self, record: EventRecord | None, event_id: str) -> None:
        self._profiles[event_id] = (record.version if record else -1,
                                    record.profile if record is not None and record.active else None)
        self._profiles.move_to_end(event_id)
        if len(self._profiles) > CACHED_PROFILES:
            self._profiles.popitem(last=False)


    # -- assigning ---------------------------------------------------------------------------------

    async def assign(self, article: dict[str, Any], features: ArticleFeatures) -> Assignment:
        return (await self.assign_batch([(article, features)]))[0]

    async def assign_batch(self, batch: Sequence[tuple[dict[str, Any], ArticleFeatures]]) -> list[Assignment]:
        """Assign articles in input order, in one transaction; one Assignment per article.

        Redis is read in three round trips for the whole batch (assignments and frequencies; index
        postings; versions of the likely candidates, with the records that changed) and written
        once. Each article is decided against what the earlier ones changed (PendingChanges),
        which gives what one transaction per article would give: how a stream is cut into batches
        changes nothing."""
        while True:
            items = [_Item(article, features) for article, features in batch]
            pending = PendingChanges()
            try:
                await self._read_batch(items, pending)
                read = await self._read_postings(items)
                await self._prefetch_candidates(items, read)
                placed = [await self._place(item, pending, read) for item in items]
                written = await self._commit_batch(items, pending, read)
            except WatchError:
                # Another worker changed an event or took an article: forget what we read, decide again.
                for event_id in pending.records:
                    self._profiles.pop(event_id, None)
                    self._stored.pop(event_id, None)
                continue
            for event_id, record in pending.records.items():
                self._remember(record, event_id)
            for event_id, stored in written.items():
                self._keep_stored(event_id, stored)
            return [assignment or await self._repeated(item) for item, assignment in zip(items, placed, strict=True)]

    async def _read_batch(self, items: list[_Item], pending: PendingChanges) -> None:
        """Which articles are done already, and every other's frequencies, weights and index keys."""
        by_day: dict[int, list[ArticleFeatures]] = {}
        for item in items:
            by_day.setdefault(int(item.features.timestamp // 86400), []).append(item.features)
        async with self.client.pipeline(transaction=False) as pipe:
            for item in items:
                features = item.features
                pipe.get(self._article(features.article_id))
                # An event named after the article means the article opened it, even if its own
                # assignment has expired since.
                pipe.exists(self._event(event_id_for(features.article_id)))
                if features.duplicate_of:
                    pipe.get(self._article(features.duplicate_of))
            asked = {day: self._sum_frequencies(pipe, day, group) for day, group in by_day.items()}
            replies = iter(await pipe.execute())
        states = [(next(replies), next(replies), next(replies) if item.features.duplicate_of else None)
                  for item in items]
        stored = {day: self._frequencies_from(*asked[day], next(replies)) for day in by_day}
        seen: set[str] = set()
        for item, (done, opened, original_event) in zip(items, states, strict=True):
            features = item.features
            item.original_event = original_event
            if done or opened:
                item.done = done or event_id_for(features.article_id)
                continue
            if features.article_id in seen:
                item.again = True
                continue
            seen.add(features.article_id)
            item.df = pending.with_counts(stored[int(features.timestamp // 86400)].only(features), features)
            pending.count(item.article, features)
            item.prepared = prepare(features, item.df)
            entity_keys, term_keys = retrieval_keys(item.prepared, item.df)
            item.index_keys = [self._index("e", e) for e in entity_keys] + [self._index("t", t) for t in term_keys]

    async def _read_postings(self, items: list[_Item]) -> _BatchRead:
        keys = sorted({key for item in items for key in item.index_keys})
        read = _BatchRead()
        if keys:
            for key, rows in zip(keys, await self.client.eval(lua.RECENT_POSTINGS, len(keys), *keys,
                                                               POSTINGS_PER_KEY), strict=True):
                read.postings[key], read.depths[key] = rows, POSTINGS_PER_KEY
        return read

    async def _prefetch_candidates(self, items: list[_Item], read: _BatchRead) -> None:
        """Read, in one round trip, the profiles the batch will likely compare with and has no
        fresh copy of: each article's candidates as Redis holds them, and its original's event."""
        wanted: set[str] = set()
        for item in items:
            if item.prepared is None:
                continue
            item.stored_candidates = most_posted([read.postings.get(k, [])[:2 * POSTINGS_PER_KEY:2]
                                                  for k in item.index_keys], MAX_CANDIDATES)
            wanted.update(item.stored_candidates)
            if item.original_event:
                wanted.add(item.original_event)
        await self._refresh_profiles(sorted(wanted), read)

    async def _refresh_profiles(self, event_ids: Iterable[str], read: _BatchRead) -> None:
        """Learn the stored version of events not yet checked in this batch, and re-read the
        profiles of those whose cached copy is of another version. A busy event is a candidate for
        many articles in a row: reading and parsing its record for each was most of the cost of
        retrieval."""
        unchecked = [event_id for event_id in event_ids if event_id not in read.versions]
        if not unchecked:
            return
        held = []
        for event_id in unchecked:
            entry = self._profiles.get(event_id)
            held += [event_id, str(entry[0]) if entry is not None else ""]
        reply = await self.client.eval(lua.CHANGED_RECORDS, len(unchecked) + 1,
                                       *(self._event(e) for e in unchecked), self._versions, *held)
        for event_id, version, raw in zip(unchecked, reply[::2], reply[1::2], strict=True):
            read.versions[event_id] = version
            if not version:
                self._remember(None, event_id)  # out of hot state: dormant, merged or expired
            elif raw:
                self._remember(EventRecord.stored(raw), event_id)
            else:
                self._profiles.move_to_end(event_id)

    async def _active_profiles(self, event_ids: list[str], pending: PendingChanges,
                               read: _BatchRead) -> list[EventProfile]:
        """The profiles of those events that are active, as the batch has left them."""
        await self._refresh_profiles([e for e in event_ids if e not in pending.records], read)
        profiles = []
        for event_id in event_ids:
            record = pending.records.get(event_id)
            if record is not None:
                if record.active:
                    profiles.append(record.profile)
                continue
            entry = self._profiles.get(event_id)
            if entry is not None and entry[1] is not None:
                profiles.append(entry[1])
        return profiles

    async def _posted(self, key: str, pending: PendingChanges, read: _BatchRead) -> list[str]:
        """The most recent events under ``key`` now, reading deeper when the batch removed some of
        those the first read returned (a merge unfiles the absorbed event)."""
        while True:
            rows = read.postings.get(key, [])
            if key not in pending.postings:
                return rows[:2 * POSTINGS_PER_KEY:2]
            stored = [(rows[i], float(rows[i + 1])) for i in range(0, len(rows), 2)]
            removed = pending.removed_from(key, stored)
            depth = read.depths.get(key, POSTINGS_PER_KEY)
            if len(stored) < depth or len(stored) - removed >= POSTINGS_PER_KEY:
                return pending.posted(key, stored, POSTINGS_PER_KEY)
            depth = POSTINGS_PER_KEY + removed
            read.postings[key] = await self.client.eval(lua.RECENT_POSTINGS, 1, key, depth)
            read.depths[key] = depth

    async def _place(self, item: _Item, pending: PendingChanges, read: _BatchRead) -> Assignment | None:
        """Decide where the article goes and apply it to the batch's working state (None: it is
        done already)."""
        features = item.features
        if item.again:  # a redelivery within the batch: the event as it stands at this point
            event_id = pending.assigned[features.article_id]
            return Assignment(event_id, [(event_id, update_message(event_id, pending.records[event_id]))],
                              False, 0, True)
        if item.prepared is None or item.df is None:
            return None
        if any(key in pending.postings for key in item.index_keys):  # the batch changed what it would read
            posted = [await self._posted(key, pending, read) for key in item.index_keys]
            candidate_ids = most_posted(posted, MAX_CANDIDATES)
        else:
            candidate_ids = item.stored_candidates
        candidates = await self._active_profiles(candidate_ids, pending, read)
        original = None
        original_event = pending.assigned.get(features.duplicate_of or "", item.original_event)
        if original_event:
            found = await self._active_profiles([original_event], pending, read)
            original = found[0] if found else None
        decision = choose_event(item.prepared, candidates, original, item.df, self.threshold)
        event_id = decision.target or event_id_for(features.article_id)
        if decision.target is None:
            record = pending.take(EventRecord(EventProfile(event_id)), None)
        else:
            record = await self._working(event_id, pending, read)
        absorbed = [await self._working(other, pending, read) for other in decision.absorb]
        updates: list[tuple[str, dict[str, Any]]] = []
        for other in absorbed:
            other_id = other.profile.event_id
            record.absorb_event(other)
            other.mark_merged(event_id)
            updates.append((other_id, update_message(other_id, other)))
            for member in other.members:
                pending.assigned[member["article_id"]] = event_id
            pending.unfile(self._postings_of(other), other_id)
        record.add(item.article, item.prepared, decision.syndicated)
        # File the event under its characteristic terms and the entities the article brought.
        # Postings are scored by the event's last article time (that is what the recency cap
        # reads), so the keys touched now are refreshed; older postings keep an older score, which
        # only makes the event less likely to be read under a crowded key it no longer leads.
        touched = set(features.entities) | {e for other in absorbed for e in other.profile.entities}
        record.indexed_terms = sorted(set(record.indexed_terms) | set(index_terms(record.profile)))
        pending.file([self._index("e", e) for e in sorted(touched)]
                     + [self._index("t", t) for t in record.indexed_terms], event_id, record.profile.last_ts)
        pending.assigned[features.article_id] = event_id
        updates.append((event_id, update_message(event_id, record)))
        return Assignment(event_id, updates, decision.target is None, len(absorbed), False)

    async def _working(self, event_id: str, pending: PendingChanges, read: _BatchRead) -> EventRecord:
        """The batch's working copy of a stored event, members included."""
        record = pending.records.get(event_id)
        if record is not None:
            return record
        stored = self._stored.get(event_id)
        if stored is not None and str(stored.version) == read.versions.get(event_id):
            record = EventRecord.stored(stored.raw, stored.members)
        else:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.get(self._event(event_id))
                pipe.lrange(self._members(event_id), 0, -1)
                raw, members = await pipe.execute()
            if not raw:
                raise WatchError("event expired meanwhile")
            record = EventRecord.stored(raw, members)
            stored = _Stored(record.version, raw, members)
        self._keep_stored(event_id, stored)
        read.member_lists[event_id] = stored.members
        if not record.active:
            raise WatchError("event retired meanwhile")
        return pending.take(record, record.version)

    def _keep_stored(self, event_id: str, stored: _Stored) -> None:
        self._stored[event_id] = stored
        self._stored.move_to_end(event_id)
        if len(self._stored) > CACHED_RECORDS:
            self._stored.popitem(last=False)

    def _postings_of(self, record: EventRecord) -> list[str]:
        return ([self._index("e", e) for e in sorted(record.profile.entities)]
                + [self._index("t", t) for t in record.indexed_terms])

    async def _repeated(self, item: _Item) -> Assignment:
        """A redelivered article changes nothing; its event's current update is sent again."""
        assert item.done is not None
        record = await self.load(item.done)
        return Assignment(item.done, [(item.done, update_message(item.done, record))] if record else [], False, 0,
                          True)

    async def _commit_batch(self, items: list[_Item], pending: PendingChanges, read: _BatchRead) -> dict[str, _Stored]:
        """Write the batch's changes in one transaction, if nothing they build on changed meanwhile;
        returns the stored form of every event written."""
        article_keys = [self._article(item.features.article_id) for item in items if item.prepared is not None]
        if not article_keys:
            return {}
        opened = [e for e, version in pending.stored_versions.items() if version is None]
        known = [e for e, version in pending.stored_versions.items() if version is not None]
        async with self.client.pipeline(transaction=True) as pipe:
            await pipe.watch(*article_keys, *(self._event(e) for e in pending.records))
            # Read on another connection after WATCH: what is watched cannot change unseen between
            # these reads and EXEC, whoever changes it.
            async with self.client.pipeline(transaction=False) as reads:
                reads.mget(article_keys)
                if opened:
                    reads.mget([self._event(e) for e in opened])
                if known:
                    reads.hmget(self._versions, known)
                assigned, *rest = await reads.execute()
            opened_now = rest.pop(0) if opened else []
            versions = rest.pop(0) if known else []
            if any(assigned) or any(opened_now):
                raise WatchError("an article was assigned meanwhile")
            if [str(pending.stored_versions[e]) for e in known] != versions:
                raise WatchError("an event changed meanwhile")
            pipe.multi()
            written = self._write(pipe, pending, read)
            await pipe.execute()
        return written

    def _write(self, pipe: Any, pending: PendingChanges, read: _BatchRead) -> dict[str, _Stored]:
        written = {}
        for event_id, record in pending.records.items():
            added = [json.dumps(m, ensure_ascii=False) for m in pending.new_members(event_id)]
            if added:
                pipe.rpush(self._members(event_id), *added)
            raw = json.dumps(record.to_json(), ensure_ascii=False)
            if record.active:
                pipe.set(self._event(event_id), raw)
                pipe.hset(self._versions, event_id, record.version)
                pipe.zadd(self._active, {event_id: record.profile.last_ts})
                written[event_id] = _Stored(record.version, raw, [*read.member_lists.get(event_id, []), *added])
            else:  # absorbed by a merge (the batch unfiled its postings)
                self._retire(pipe, event_id, raw)
        self._file_postings(pipe, pending.postings)
        self._set_each(pipe, {self._article(a): e for a, e in pending.assigned.items()}, ARTICLE_TTL_SECONDS)
        # Document frequencies and trend buckets: counted once, in the transaction that assigns.
        ttl = (DF_DAYS + 2) * 86400
        for day, documents in pending.documents.items():
            pipe.incrby(self._df(day, "documents"), documents)
            pipe.expire(self._df(day, "documents"), ttl)
        for (day, kind), increments in sorted(pending.frequencies.items()):
            if increments:
                self._hincrby_many(pipe, self._df(day, kind), dict(sorted(increments.items())), ttl)
        for bucket, mentions in sorted(pending.trend_counts.items()):
            self._hincrby_many(pipe, self.keys("tr", "b", str(bucket)), dict(sorted(mentions.items())),
                               BUCKET_TTL_SECONDS)
        self._set_each(pipe, {self.keys("tr", "n", c): json.dumps(list(name), ensure_ascii=False)
                              for c, name in pending.entity_names.items()}, BUCKET_TTL_SECONDS)
        if pending.clock is not None:
            pipe.zadd(self._clock, {"t": pending.clock}, gt=True)
        return written

    @staticmethod
    def _file_postings(pipe: Any, postings: dict[str, dict[str, float | None]]) -> None:
        """Queue changes to the inverted index: key -> event id -> score (None: remove the posting)."""
        keys, arguments = [], []
        for key, changes in postings.items():
            for event_id, score in changes.items():
                keys.append(key)
                arguments += [event_id, "" if score is None else repr(score)]
        if keys:
            pipe.eval(lua.FILE_POSTINGS, len(keys), *keys, *arguments)

    @staticmethod
    def _set_each(pipe: Any, values: dict[str, str], ttl: int) -> None:
        if values:
            pipe.eval(lua.SET_EACH_WITH_TTL, len(values), *values, ttl, *values.values())

    def _retire(self, pipe: Any, event_id: str, raw: str) -> None:
        """Take an event out of hot state, its final record ``raw``; record and members expire later.
        Its postings are the caller's to remove."""
        pipe.zrem(self._active, event_id)
        pipe.hdel(self._versions, event_id)
        pipe.set(self._event(event_id), raw, ex=RETIRED_TTL_SECONDS)
        pipe.expire(self._members(event_id), RETIRED_TTL_SECONDS)

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
                    self._file_postings(pipe, {key: {event_id: None} for key in self._postings_of(record)})
                    self._retire(pipe, event_id, json.dumps(record.to_json(), ensure_ascii=False))
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
