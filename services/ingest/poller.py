"""Polling sources for new articles and publishing them as raw documents.

Each enabled source is polled at its interval (±10 % jitter, so sources configured alike do not
fire together, and backing off while it fails). A poll fetches the feed or sitemap conditionally,
picks the items whose id is not in the source's seen set, fetches each article page and hands a
raw-document message to ``publish``.

Delivery is at-least-once. An item is marked seen only after ``publish`` returned, and the feed's
ETag/Last-Modified are stored only once every new item of that response has been published (or
given up after repeated failures), so neither a crash nor a 304 can hide an item that was never
published. The state lives in Redis, under the configured prefix:

* ``feed:<source>:state`` — hash: etag, last_modified, last_success, last_attempt (Unix times),
  consecutive_failures, last_status;
* ``feed:<source>:seen`` — sorted set of item ids scored by first-seen time, trimmed to the newest
  ``seen_limit``;
* ``feed:<source>:failures`` — hash: item id → failed attempts, so a broken article is retried a
  few times and then dropped instead of being fetched forever.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from services.common.cancellation import raise_if_cancel_lost
from services.common.clock import iso
from services.common.redis_store import Keys
from services.common.schemas import SCHEMA_VERSION, SchemaError, validate

from .feed_metrics import (
    FEED_BYTES,
    FEED_CONSECUTIVE_FAILURES,
    FEED_ERRORS,
    FEED_HTTP_RESPONSES,
    FEED_ITEMS,
    FEED_LAST_SUCCESS,
    FEED_POLLS,
    FEED_RETRIES,
    retry_reason,
    status_class,
)
from .feeds import FeedError, FeedItem, parse_feed, parse_news_sitemap
from .files import RAW_SCHEMA, document_id
from .http import FEED_TYPES, HTML_TYPES, SITEMAP_TYPES, Fetcher, FetchError, FetchResult, HTTPStatusError
from .sources import Source

log = logging.getLogger(__name__)

Publish = Callable[[dict[str, Any]], Awaitable[None]]

# base64 grows bytes by 4/3 and the raw-document schema caps content at 8,000,000 characters.
ARTICLE_MAX_BYTES = 5 * 1024 * 1024
_TITLE_MAX = 2000
_AUTHOR_MAX = 500
_URL_MAX = 4096


@dataclass(frozen=True)
class PollResult:
    source: str
    result: str  # ok | not_modified | error
    new_items: int = 0  # unseen items found in this response
    published: int = 0
    dropped: int = 0  # items given up after max_item_attempts failures (or unpublishable)
    pending: int = 0  # items left for the next poll
    status: int | None = None  # HTTP status of the feed itself
    error: str | None = None  # reason of a failed poll
    retry_after: float | None = None


@dataclass(frozen=True)
class FeedState:
    etag: str | None
    last_modified: str | None
    last_success: float | None
    last_attempt: float | None
    consecutive_failures: int
    last_status: str | None


class _PublishFailed(Exception):
    pass


class FeedPoller:
    """Polls sources until cancelled; :meth:`poll_once` runs one cycle of one source."""

    def __init__(self, sources: Iterable[Source], *, fetcher: Fetcher, redis: aioredis.Redis, keys: Keys,
                 publish: Publish, seen_limit: int = 5000, max_items_per_poll: int = 100,
                 max_item_attempts: int = 3, max_child_sitemaps: int = 10,
                 article_max_bytes: int = ARTICLE_MAX_BYTES, jitter: float = 0.1,
                 max_backoff_factor: float = 8.0) -> None:
        self.sources = list(sources)
        self.fetcher = fetcher
        self.redis = redis
        self.keys = keys
        self.publish = publish
        self.seen_limit = seen_limit
        self.max_items_per_poll = max_items_per_poll
        self.max_item_attempts = max_item_attempts
        self.max_child_sitemaps = max_child_sitemaps
        self.article_max_bytes = article_max_bytes
        self.jitter = jitter
        self.max_backoff_factor = max_backoff_factor
        self._failures: dict[str, int] = {}  # consecutive failed polls, for the backoff

    # -- keys and state ----------------------------------------------------------------------------

    def state_key(self, source: Source) -> str:
        return self.keys("feed", source.name, "state")

    def seen_key(self, source: Source) -> str:
        return self.keys("feed", source.name, "seen")

    def failures_key(self, source: Source) -> str:
        return self.keys("feed", source.name, "failures")

    async def feed_state(self, source: Source) -> FeedState:
        raw = await self.redis.hgetall(self.state_key(source))
        return FeedState(
            etag=raw.get("etag") or None,
            last_modified=raw.get("last_modified") or None,
            last_success=float(raw["last_success"]) if raw.get("last_success") else None,
            last_attempt=float(raw["last_attempt"]) if raw.get("last_attempt") else None,
            consecutive_failures=int(raw.get("consecutive_failures") or 0),
            last_status=raw.get("last_status") or None,
        )

    # -- running -----------------------------------------------------------------------------------

    async def run(self) -> None:
        """Poll every enabled source at its interval until cancelled."""
        enabled = [source for source in self.sources if source.enabled]
        if not enabled:
            log.warning("no enabled sources: nothing to poll")
            return
        log.info("polling %d source(s): %s", len(enabled), ", ".join(source.name for source in enabled))
        async with asyncio.TaskGroup() as group:
            for source in enabled:
                group.create_task(self._poll_forever(source), name=f"poll:{source.name}")

    async def _poll_forever(self, source: Source) -> None:
        await asyncio.sleep(await self._first_delay(source))
        while True:
            delay = source.interval
            try:
                outcome = await self.poll_once(source)
                delay = self._next_delay(source, outcome)
            except Exception:
                # A source must never take the others down; poll_once already catches what it expects.
                log.exception("%s: poll crashed", source.name)
            raise_if_cancel_lost()
            await asyncio.sleep(delay)

    async def _first_delay(self, source: Source) -> float:
        """Pick up the schedule where a previous run left it, spread a little."""
        spread = random.uniform(0, self.jitter * source.interval)
        try:
            state = await self.feed_state(source)
        except Exception as exc:
            log.warning("%s: cannot read feed state (%s); polling now", source.name, exc)
            return spread
        if state.last_attempt is None:
            return spread
        return max(0.0, state.last_attempt + source.interval - time.time()) + spread

    def _next_delay(self, source: Source, outcome: PollResult) -> float:
        delay = source.interval * random.uniform(1 - self.jitter, 1 + self.jitter)
        failures = self._failures.get(source.name, 0)
        if failures:
            delay *= min(2.0 ** (failures - 1), self.max_backoff_factor)
        if outcome.retry_after:
            delay = max(delay, outcome.retry_after)
        return delay

    # -- one poll ----------------------------------------------------------------------------------

    async def poll_once(self, source: Source) -> PollResult:
        """Poll ``source`` once: fetch, publish what is new, record the outcome. Never raises for a
        fetch, parse or publish failure; those come back as a result with ``result == "error"``."""
        started = time.time()
        state_key = self.state_key(source)
        try:
            await self.redis.hset(state_key, "last_attempt", repr(started))
            state = await self.feed_state(source)
            if source.kind == "page":
                outcome = await self._poll_page(source, state)
            else:
                outcome = await self._poll_listing(source, state)
        except FetchError as exc:
            status = exc.status if isinstance(exc, HTTPStatusError) else None
            retry_after = exc.retry_after if isinstance(exc, HTTPStatusError) else None
            return await self._failed(source, exc.reason, str(exc), status, retry_after)
        except FeedError as exc:
            return await self._failed(source, "parse", str(exc), None)
        except _PublishFailed as exc:
            return await self._failed(source, "publish", str(exc), None)
        except Exception as exc:
            log.exception("%s: poll failed unexpectedly", source.name)
            return await self._failed(source, "internal", f"{type(exc).__name__}: {exc}", None)
        FEED_POLLS.labels(source.name, outcome.result).inc()
        FEED_LAST_SUCCESS.labels(source.name).set(started)
        FEED_CONSECUTIVE_FAILURES.labels(source.name).set(0)
        self._failures[source.name] = 0
        log.debug("%s: %s", source.name, outcome)
        return outcome

    async def _failed(self, source: Source, reason: str, message: str, status: int | None,
                      retry_after: float | None = None) -> PollResult:
        FEED_POLLS.labels(source.name, "error").inc()
        FEED_ERRORS.labels(source.name, "feed", reason).inc()
        failures = self._failures.get(source.name, 0) + 1
        try:
            state_key = self.state_key(source)
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hincrby(state_key, "consecutive_failures", 1)
                pipe.hset(state_key, "last_status", str(status) if status else f"error:{reason}")
                failures = int((await pipe.execute())[0])
        except Exception as exc:
            log.warning("%s: cannot record the failed poll in Redis: %s", source.name, exc)
        self._failures[source.name] = failures
        FEED_CONSECUTIVE_FAILURES.labels(source.name).set(failures)
        log.warning("%s: poll failed (%s, %d in a row): %s", source.name, reason, failures, message)
        return PollResult(source.name, "error", status=status, error=reason, retry_after=retry_after)

    async def _succeeded(self, source: Source, fetched: FetchResult, *, complete: bool) -> None:
        """Record a successful poll; the validators are kept only when nothing is left to publish."""
        state_key = self.state_key(source)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(state_key, mapping={"last_success": repr(time.time()), "consecutive_failures": 0,
                                          "last_status": str(fetched.status)})
            validators = {"etag": fetched.etag, "last_modified": fetched.last_modified}
            for name, value in validators.items():
                if complete and value:
                    pipe.hset(state_key, name, value)
                else:
                    pipe.hdel(state_key, name)
            await pipe.execute()

    async def _poll_listing(self, source: Source, state: FeedState) -> PollResult:
        accept = SITEMAP_TYPES if source.kind == "sitemap" else FEED_TYPES
        fetched = await self._fetch(source, source.url, accept=accept, etag=state.etag,
                                    last_modified=state.last_modified)
        if fetched.not_modified:
            await self._succeeded(source, fetched, complete=True)
            return PollResult(source.name, "not_modified", status=fetched.status)
        complete = True
        if source.kind == "sitemap":
            items, complete = await self._sitemap_items(source, fetched)
        else:
            items = parse_feed(fetched.content, fetched.final_url)
        unseen = await self._unseen(source, items)
        published = dropped = pending = 0
        for item in unseen[:self.max_items_per_poll]:
            outcome = await self._ingest(source, item)
            published += outcome == "published"
            dropped += outcome == "dropped"
            pending += outcome == "pending"
        pending += max(len(unseen) - self.max_items_per_poll, 0)
        await self._succeeded(source, fetched, complete=complete and pending == 0)
        return PollResult(source.name, "ok", new_items=len(unseen), published=published, dropped=dropped,
                          pending=pending, status=fetched.status)

    async def _sitemap_items(self, source: Source, fetched: FetchResult) -> tuple[list[FeedItem], bool]:
        """Items of a sitemap, or of the first children of a sitemap index; False if a child failed."""
        sitemap = parse_news_sitemap(fetched.content, fetched.final_url)
        items = list(sitemap.items)
        complete = True
        for child in sitemap.sitemaps[:self.max_child_sitemaps]:
            try:
                child_fetched = await self._fetch(source, child, accept=SITEMAP_TYPES)
                items.extend(parse_news_sitemap(child_fetched.content, child_fetched.final_url).items)
            except (FetchError, FeedError) as exc:
                reason = exc.reason if isinstance(exc, FetchError) else "parse"
                FEED_ERRORS.labels(source.name, "sitemap", reason).inc()
                log.warning("%s: child sitemap failed (%s): %s", source.name, reason, exc)
                complete = False
        return items, complete

    async def _poll_page(self, source: Source, state: FeedState) -> PollResult:
        fetched = await self._fetch(source, source.url, accept=HTML_TYPES, etag=state.etag,
                                    last_modified=state.last_modified, max_bytes=self.article_max_bytes)
        if fetched.not_modified:
            await self._succeeded(source, fetched, complete=True)
            return PollResult(source.name, "not_modified", status=fetched.status)
        # A page is "new" whenever its bytes change, so the id is the document's own.
        item = FeedItem(id=document_id(fetched.final_url, fetched.content), link=fetched.final_url)
        published = 0
        if await self._unseen(source, [item]):
            await self._publish(source, item, fetched)
            published = 1
        await self._succeeded(source, fetched, complete=True)
        return PollResult(source.name, "ok", new_items=published, published=published, status=fetched.status)

    # -- items -------------------------------------------------------------------------------------

    async def _unseen(self, source: Source, items: list[FeedItem]) -> list[FeedItem]:
        if not items:
            return []
        scores = await self.redis.zmscore(self.seen_key(source), [item.id for item in items])
        return [item for item, score in zip(items, scores, strict=True) if score is None]

    async def _ingest(self, source: Source, item: FeedItem) -> str:
        """Fetch and publish one item: ``published``, ``pending`` (retry next poll) or ``dropped``."""
        try:
            page = await self._fetch(source, item.link, accept=HTML_TYPES, max_bytes=self.article_max_bytes)
            await self._publish(source, item, page)
        except FetchError as exc:
            FEED_ERRORS.labels(source.name, "article", exc.reason).inc()
            attempts = await self.redis.hincrby(self.failures_key(source), item.id, 1)
            if attempts < self.max_item_attempts:
                log.info("%s: article failed (attempt %d of %d), will retry: %s", source.name, attempts,
                         self.max_item_attempts, exc)
                return "pending"
            log.warning("%s: giving up on %s after %d attempts: %s", source.name, item.link, attempts, exc)
            await self._mark_seen(source, item)
            return "dropped"
        except SchemaError as exc:
            FEED_ERRORS.labels(source.name, "article", "schema").inc()
            log.warning("%s: %s cannot be a raw document, dropped: %s", source.name, item.link, exc)
            await self._mark_seen(source, item)
            return "dropped"
        return "published"

    async def _publish(self, source: Source, item: FeedItem, page: FetchResult) -> None:
        document = raw_document(source, item, page)
        validate(RAW_SCHEMA, document)
        try:
            await self.publish(document)
        except Exception as exc:
            raise _PublishFailed(f"publishing {document['doc_id']} failed: {type(exc).__name__}: {exc}") from exc
        await self._mark_seen(source, item)
        FEED_ITEMS.labels(source.name).inc()

    async def _mark_seen(self, source: Source, item: FeedItem) -> None:
        seen_key = self.seen_key(source)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(seen_key, {item.id: time.time()}, nx=True)
            # Keep the newest seen_limit ids: a feed never lists that many, so nothing still listed is forgotten.
            pipe.zremrangebyrank(seen_key, 0, -(self.seen_limit + 1))
            pipe.hdel(self.failures_key(source), item.id)
            await pipe.execute()

    async def _fetch(self, source: Source, url: str, **options: Any) -> FetchResult:
        """Fetch with the source's metrics counted."""
        def count_retry(error: FetchError, delay: float) -> None:
            FEED_RETRIES.labels(source.name, retry_reason(error)).inc()

        try:
            fetched = await self.fetcher.fetch(url, on_retry=count_retry, **options)
        except FetchError as exc:
            status = exc.status if isinstance(exc, HTTPStatusError) else None
            FEED_HTTP_RESPONSES.labels(source.name, status_class(status)).inc()
            raise
        FEED_HTTP_RESPONSES.labels(source.name, status_class(fetched.status)).inc()
        FEED_BYTES.labels(source.name).inc(len(fetched.content))
        return fetched


def raw_document(source: Source, item: FeedItem, page: FetchResult) -> dict[str, Any]:
    """The raw-document message of a fetched article page (bytes kept as they came, base64)."""
    title = item.title[:_TITLE_MAX] if item.title else None
    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "doc_id": document_id(page.final_url, page.content),
        "source": source.name,
        "url": page.final_url if len(page.final_url) <= _URL_MAX else None,
        "title": title,
        "published_at": item.published,
        "author": item.author[:_AUTHOR_MAX] if item.author else None,
        "received_at": iso(),
        "content_type": "text/html",
        "content_encoding": "base64",
        # What the source or the HTTP header declared; the ingest core reads a page's <meta> itself.
        "charset": source.charset or page.charset,
        "content": base64.b64encode(page.content).decode("ascii"),
    }
    if source.language:
        document["language"] = source.language
    return document

