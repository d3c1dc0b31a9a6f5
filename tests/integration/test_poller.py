"""The feed poller against a real news site on 127.0.0.1 and the real embedded Redis."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from prometheus_client import REGISTRY

from services.common.embedded import EmbeddedRedis
from services.common.redis_store import Keys, connect_async
from services.common.schemas import validate
from services.ingest.decoding import decode_bytes
from services.ingest.http import Fetcher, FetchSettings
from services.ingest.poller import FeedPoller
from services.ingest.sources import Source

pytestmark = pytest.mark.integration

ARTICLES = {
    "port": ("توسعة الميناء التجاري", "بدأت أعمال توسعة الميناء التجاري لاستقبال سفن أكبر حجما."),
    "rain": ("أمطار غزيرة على الساحل", "هطلت أمطار غزيرة على المدن الساحلية طوال الليل."),
    "fair": ("معرض الكتاب يفتح أبوابه", "افتتح معرض الكتاب السنوي بمشاركة مئات دور النشر."),
}
LEGACY = "rain"  # served as windows-1256


def page_html(slug: str) -> str:
    title, body = ARTICLES[slug]
    return f"<html><head><title>{title}</title></head><body><h1>{title}</h1><p>{body}</p></body></html>"


class NewsSite:
    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.listed = ["port", "rain"]
        self.broken_feed = False
        self.app = web.Application()
        self.app.middlewares.append(self._count)
        self.app.router.add_get("/robots.txt", self.robots)
        self.app.router.add_get("/rss.xml", self.rss)
        self.app.router.add_get("/news/{slug}", self.article)
        self.app.router.add_get("/sitemap.xml", self.sitemap_index)
        self.app.router.add_get("/news-sitemap.xml", self.news_sitemap)
        self.app.router.add_get("/broken.xml", self.broken)
        self.base = ""

    @web.middleware
    async def _count(self, request: web.Request, handler: web.RequestHandler) -> web.StreamResponse:
        self.hits[request.path] += 1
        return await handler(request)

    def article_hits(self) -> int:
        return sum(count for path, count in self.hits.items() if path.startswith("/news/"))

    async def robots(self, request: web.Request) -> web.Response:
        return web.Response(text="User-agent: *\nDisallow: /news/private\n", content_type="text/plain")

    def _etag(self) -> str:
        return '"' + "-".join(self.listed) + '"'

    async def rss(self, request: web.Request) -> web.Response:
        if request.headers.get("If-None-Match") == self._etag():
            return web.Response(status=304, headers={"ETag": self._etag()})
        items = "".join(
            f"<item><title>{ARTICLES.get(slug, ('خبر خاص', ''))[0]}</title>"
            f"<link>{self.base}/news/{slug}</link><guid isPermaLink=\"false\">item-{slug}</guid>"
            f"<pubDate>Wed, 11 Nov 2026 0{index}:00:00 GMT</pubDate></item>"
            for index, slug in enumerate(self.listed))
        feed = f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>الواحة</title>{items}</channel></rss>'
        return web.Response(text=feed, content_type="application/rss+xml", headers={"ETag": self._etag()})

    async def article(self, request: web.Request) -> web.Response:
        slug = request.match_info["slug"]
        if slug not in ARTICLES:
            return web.Response(status=404, text="gone")
        if slug == LEGACY:
            return web.Response(body=page_html(slug).encode("windows-1256"),
                                headers={"Content-Type": "text/html; charset=windows-1256",
                                         "ETag": f'"{slug}"'})
        if request.headers.get("If-None-Match") == f'"{slug}"':
            return web.Response(status=304)
        return web.Response(text=page_html(slug), content_type="text/html", headers={"ETag": f'"{slug}"'})

    async def sitemap_index(self, request: web.Request) -> web.Response:
        body = (f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                f"<sitemap><loc>{self.base}/news-sitemap.xml</loc></sitemap></sitemapindex>")
        return web.Response(text=body, content_type="application/xml")

    async def news_sitemap(self, request: web.Request) -> web.Response:
        body = ('<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
                'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
                f"<url><loc>{self.base}/news/fair</loc><news:news>"
                "<news:publication_date>2026-11-11T12:00:00+03:00</news:publication_date>"
                f"<news:title>{ARTICLES['fair'][0]}</news:title></news:news></url></urlset>")
        return web.Response(text=body, content_type="application/xml")

    async def broken(self, request: web.Request) -> web.Response:
        return web.Response(status=503, text="down for maintenance")


@contextlib.asynccontextmanager
async def serve(site: NewsSite) -> AsyncIterator[str]:
    runner = web.AppRunner(site.app, shutdown_timeout=0.5)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    host, port = runner.addresses[0][:2]
    site.base = f"http://{host}:{port}"
    try:
        yield site.base
    finally:
        await runner.cleanup()


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("poller-redis")).start()
    yield server.url
    server.stop()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = connect_async(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def keys() -> Keys:
    return Keys(f"t{uuid.uuid4().hex[:8]}:")  # a fresh prefix per test


@pytest.fixture
async def site() -> AsyncIterator[NewsSite]:
    news = NewsSite()
    async with serve(news):
        yield news


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    settings = FetchSettings(allowed_networks=("127.0.0.0/8",), retry_base_delay=0.01, per_host_delay=0.0,
                             max_attempts=2)
    async with Fetcher(settings) as client:
        yield client


class Outbox:
    """Collects published raw documents; can be told to fail like a broker that is down."""

    def __init__(self) -> None:
        self.documents: list[dict[str, Any]] = []
        self.failing = False

    async def publish(self, document: dict[str, Any]) -> None:
        if self.failing:
            raise ConnectionError("broker unreachable")
        validate("raw-document.schema.json", document)
        self.documents.append(document)


def source(name: str, base: str, kind: str = "rss", path: str = "/rss.xml", interval: float = 300) -> Source:
    return Source(name=f"{name}-{uuid.uuid4().hex[:6]}", kind=kind, url=base + path, interval=interval,
                  language="ar")


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_new_items_are_published_once_across_polls_and_restarts(
        site: NewsSite, redis: aioredis.Redis, keys: Keys, fetcher: Fetcher) -> None:
    outbox = Outbox()
    wahat = source("wahat", site.base)

    def poller() -> FeedPoller:
        return FeedPoller([wahat], fetcher=fetcher, redis=redis, keys=keys, publish=outbox.publish)

    first = await poller().poll_once(wahat)
    assert (first.result, first.new_items, first.published) == ("ok", 2, 2)
    by_url = {doc["url"]: doc for doc in outbox.documents}
    port, rain = by_url[f"{site.base}/news/port"], by_url[f"{site.base}/news/rain"]
    assert port["source"] == wahat.name and port["title"] == ARTICLES["port"][0]
    assert port["published_at"] == "2026-11-11T00:00:00.000Z" and port["language"] == "ar"
    assert port["content_type"] == "text/html" and port["content_encoding"] == "base64"
    assert rain["charset"] == "windows-1256"
    assert decode_bytes(base64.b64decode(rain["content"]), rain["charset"]) == page_html("rain")
    assert len({doc["doc_id"] for doc in outbox.documents}) == 2

    # Unchanged feed: a 304, and not a single article fetched.
    hits_before = site.article_hits()
    second = await poller().poll_once(wahat)
    assert second.result == "not_modified" and second.status == 304
    assert site.article_hits() == hits_before and len(outbox.documents) == 2

    # A new item, polled by a new poller (a restart) on the same Redis: only it is published.
    site.listed = ["fair", "port", "rain"]
    restarted = poller()
    third = await restarted.poll_once(wahat)
    assert (third.result, third.new_items, third.published) == ("ok", 1, 1)
    assert [doc["url"] for doc in outbox.documents].count(f"{site.base}/news/fair") == 1
    assert len(outbox.documents) == 3
    assert site.hits["/news/port"] == site.hits["/news/rain"] == site.hits["/news/fair"] == 1

    state = await restarted.feed_state(wahat)
    assert state.etag == '"fair-port-rain"' and state.consecutive_failures == 0 and state.last_status == "200"
    assert state.last_success is not None and state.last_attempt is not None
    assert await redis.zcard(restarted.seen_key(wahat)) == 3
    assert metric("marsad_feed_items_total", source=wahat.name) == 3
    assert metric("marsad_feed_polls_total", source=wahat.name, result="not_modified") == 1
    assert metric("marsad_feed_http_responses_total", source=wahat.name, status_class="3xx") == 1
    assert metric("marsad_feed_bytes_total", source=wahat.name) > 0
    assert metric("marsad_feed_last_success_timestamp_seconds", source=wahat.name) > 0


async def test_nothing_is_marked_seen_until_published(
        site: NewsSite, redis: aioredis.Redis, keys: Keys, fetcher: Fetcher) -> None:
    outbox = Outbox()
    outbox.failing = True
    wahat = source("wahat", site.base)
    poller = FeedPoller([wahat], fetcher=fetcher, redis=redis, keys=keys, publish=outbox.publish)

    failed = await poller.poll_once(wahat)
    assert failed.result == "error" and failed.error == "publish"
    state = await poller.feed_state(wahat)
    assert state.consecutive_failures == 1 and state.etag is None
    assert await redis.zcard(poller.seen_key(wahat)) == 0
    assert metric("marsad_feed_consecutive_failures", source=wahat.name) == 1

    outbox.failing = False
    recovered = await poller.poll_once(wahat)
    assert recovered.published == 2 and len(outbox.documents) == 2
    assert (await poller.feed_state(wahat)).consecutive_failures == 0


async def test_a_failing_article_is_retried_then_dropped(
        site: NewsSite, redis: aioredis.Redis, keys: Keys, fetcher: Fetcher) -> None:
    outbox = Outbox()
    site.listed = ["port", "private"]  # /news/private is disallowed by robots.txt
    wahat = source("wahat", site.base)
    poller = FeedPoller([wahat], fetcher=fetcher, redis=redis, keys=keys, publish=outbox.publish,
                        max_item_attempts=2)

    first = await poller.poll_once(wahat)
    assert (first.published, first.pending, first.dropped) == (1, 1, 0)
    # Something is left to do, so the ETag is not kept: the next poll must not be a 304.
    assert (await poller.feed_state(wahat)).etag is None
    second = await poller.poll_once(wahat)
    assert (second.result, second.new_items, second.published, second.dropped) == ("ok", 1, 0, 1)
    assert (await poller.feed_state(wahat)).etag is not None
    third = await poller.poll_once(wahat)
    assert third.result == "not_modified"
    assert len(outbox.documents) == 1 and site.hits["/news/private"] == 0
    assert metric("marsad_feed_errors_total", source=wahat.name, stage="article", reason="robots") == 2


async def test_sitemap_index_and_single_page_sources(
        site: NewsSite, redis: aioredis.Redis, keys: Keys, fetcher: Fetcher) -> None:
    outbox = Outbox()
    nakheel = source("nakheel", site.base, kind="sitemap", path="/sitemap.xml")
    page = source("page", site.base, kind="page", path="/news/port")
    poller = FeedPoller([nakheel, page], fetcher=fetcher, redis=redis, keys=keys, publish=outbox.publish)

    from_sitemap = await poller.poll_once(nakheel)
    assert from_sitemap.published == 1
    [fair] = outbox.documents
    assert fair["url"] == f"{site.base}/news/fair" and fair["title"] == ARTICLES["fair"][0]
    assert fair["published_at"] == "2026-11-11T09:00:00.000Z"
    assert (await poller.poll_once(nakheel)).published == 0  # seen already

    assert (await poller.poll_once(page)).published == 1
    again = await poller.poll_once(page)
    assert again.result == "not_modified" and len(outbox.documents) == 2


async def test_one_failing_feed_does_not_stop_the_others(
        site: NewsSite, redis: aioredis.Redis, keys: Keys, fetcher: Fetcher) -> None:
    outbox = Outbox()
    broken = source("broken", site.base, path="/broken.xml", interval=1)
    wahat = source("wahat", site.base, interval=1)
    poller = FeedPoller([broken, wahat], fetcher=fetcher, redis=redis, keys=keys, publish=outbox.publish)

    running = asyncio.create_task(poller.run())
    try:
        async with asyncio.timeout(15):
            while len(outbox.documents) < 2 or site.hits["/broken.xml"] < 2:
                await asyncio.sleep(0.05)
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    assert len(outbox.documents) == 2
    state = await poller.feed_state(broken)
    assert state.consecutive_failures >= 1 and state.last_status == "503" and state.last_success is None
    assert metric("marsad_feed_polls_total", source=broken.name, result="error") >= 1
    assert metric("marsad_feed_http_responses_total", source=broken.name, status_class="5xx") >= 1
    assert metric("marsad_feed_errors_total", source=broken.name, stage="feed", reason="http_status") >= 1
