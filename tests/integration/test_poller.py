"""The feed poller against a real news site on 127.0.0.1 and the real embedded Redis."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from prometheus_client import REGISTRY

from services.common.embedded import EmbeddedRedis
from services.common.redis_store import Keys, connect_async
from services.common.schemas import validate
from services.ingest.article import build_article, clean_document, extract_document
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


class CountingSite:
    """A site on 127.0.0.1 that counts requests by path; its robots.txt disallows /news/private."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.app = web.Application()
        self.app.middlewares.append(self._count)
        self.app.router.add_get("/robots.txt", self.robots)
        self.base = ""

    @web.middleware
    async def _count(self, request: web.Request, handler: web.RequestHandler) -> web.StreamResponse:
        self.hits[request.path] += 1
        return await handler(request)

    async def robots(self, request: web.Request) -> web.Response:
        return web.Response(text="User-agent: *\nDisallow: /news/private\n", content_type="text/plain")


class NewsSite(CountingSite):
    def __init__(self) -> None:
        super().__init__()
        self.listed = ["port", "rain"]
        self.app.router.add_get("/rss.xml", self.rss)
        self.app.router.add_get("/news/{slug}", self.article)
        self.app.router.add_get("/sitemap.xml", self.sitemap_index)
        self.app.router.add_get("/news-sitemap.xml", self.news_sitemap)
        self.app.router.add_get("/broken.xml", self.broken)

    def article_hits(self) -> int:
        return sum(count for path, count in self.hits.items() if path.startswith("/news/"))

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


# Pages of the unruly site that end up published: slug -> (title, text, what chose the charset).
RECOVERABLE = {
    "council": ("مجلس المدينة يقر ميزانية العام المقبل",
                "أقر مجلس المدينة في جلسته المسائية ميزانية العام المقبل بعد نقاش طويل حول الطرق والمدارس.",
                "declared"),
    "bare-utf8": ("افتتاح مكتبة عامة في الحي القديم",
                  "افتتحت البلدية مكتبة عامة في الحي القديم تضم آلاف الكتب وقاعة للمطالعة.", "utf-8"),
    "legacy": ("موسم الزيتون يبدأ مبكرا", "بدأ المزارعون قطف الزيتون قبل موعده المعتاد بسبب حرارة الصيف.",
               "declared"),
    "mislabelled": ("تمديد ساعات عمل المتحف الوطني",
                    "قررت إدارة المتحف الوطني تمديد ساعات العمل في عطلة نهاية الأسبوع لاستقبال الزوار.", "meta"),
    "unlabelled": ("سباق للدراجات على الكورنيش",
                   "شارك مئات الهواة في سباق للدراجات الهوائية على طول الكورنيش صباح الجمعة.", "detected"),
    "flaky": ("إصلاح شبكة المياه في الضاحية", "أنهت فرق الصيانة إصلاح شبكة المياه في الضاحية الشرقية.",
              "declared"),
    "throttled": ("مهرجان للمسرح المدرسي", "انطلق مهرجان المسرح المدرسي بمشاركة عشرين مدرسة من المحافظة.",
                  "declared"),
}
# Pages that never come: slug -> the FetchError reason they are counted under.
UNRECOVERABLE = {"stalled": "timeout", "huge": "too_large", "loop": "redirects", "private": "robots"}
STALL_SECONDS = 5.0
UNRULY_ARTICLE_MAX_BYTES = 50_000


def unruly_html(slug: str, head: str = "") -> str:
    title, text, _ = RECOVERABLE[slug]
    return (f"<html><head>{head}<title>{title}</title></head>"
            f"<body><h1>{title}</h1><p>{text}</p></body></html>")


class UnrulySite(CountingSite):
    """One feed listing good pages beside every way a news site misbehaves.

    ``feed_mode`` breaks the feed itself: ``cut`` serves it truncated before its first item (under
    the same ETag), ``flaky`` fails the next request with a 500 and then serves it."""

    def __init__(self) -> None:
        super().__init__()
        self.listed = [*RECOVERABLE, *UNRECOVERABLE]
        self.feed_mode = "ok"
        self.app.router.add_get("/rss.xml", self.rss)
        self.app.router.add_get("/news/{slug}", self.article)

    def _etag(self) -> str:
        return f'"{len(self.listed)}"'

    async def rss(self, request: web.Request) -> web.Response:
        if self.feed_mode == "flaky":
            self.feed_mode = "ok"
            return web.Response(status=500, text="internal error")
        if request.headers.get("If-None-Match") == self._etag():
            return web.Response(status=304, headers={"ETag": self._etag()})
        items = "".join(
            f"<item><title>{RECOVERABLE[slug][0] if slug in RECOVERABLE else slug}</title>"
            f"<link>{self.base}/news/{slug}</link><guid isPermaLink=\"false\">unruly-{slug}</guid></item>"
            for slug in self.listed)
        feed = (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>الحي</title>'
                f"{items}</channel></rss>")
        if self.feed_mode == "cut":
            feed = feed[:feed.index("</title>", feed.index("<item>"))]
        return web.Response(text=feed, content_type="application/rss+xml", headers={"ETag": self._etag()})

    async def article(self, request: web.Request) -> web.StreamResponse:
        slug = request.match_info["slug"]
        hits = self.hits[request.path]
        if slug == "council" or (slug == "flaky" and hits > 1) or (slug == "throttled" and hits > 1):
            return web.Response(text=unruly_html(slug), content_type="text/html")  # charset=utf-8 added
        if slug == "flaky":
            return web.Response(status=500, text="internal error")
        if slug == "throttled":
            return web.Response(status=429, headers={"Retry-After": "1"})
        if slug == "bare-utf8":
            return web.Response(body=unruly_html(slug).encode(), headers={"Content-Type": "text/html"})
        if slug == "legacy":
            return web.Response(body=unruly_html(slug).encode("cp1256"),
                                headers={"Content-Type": "text/html; charset=windows-1256"})
        if slug == "mislabelled":
            body = unruly_html(slug, '<meta charset="windows-1256">').encode("cp1256")
            return web.Response(body=body, headers={"Content-Type": "text/html; charset=iso-8859-1"})
        if slug == "unlabelled":
            return web.Response(body=unruly_html(slug).encode("cp1256"), headers={"Content-Type": "text/html"})
        if slug == "stalled":
            await asyncio.sleep(STALL_SECONDS)
            return web.Response(text="too late", content_type="text/html")
        if slug == "huge":
            return web.Response(body=b"<p>" + b"x" * UNRULY_ARTICLE_MAX_BYTES + b"</p>", content_type="text/html")
        if slug == "loop":
            raise web.HTTPFound("/news/loop-back")
        if slug == "loop-back":
            raise web.HTTPFound("/news/loop")
        return web.Response(status=404, text="gone")


# A feed entry's title, date and author, and what its page's own metadata say instead.
ENTRY = ("عاجل: توسعة الميناء التجاري تبدأ اليوم", "Wed, 11 Nov 2026 06:30:00 GMT", "سارة الأحمد")
PAGE_HEAD = ('<title>توسعة الميناء التجاري | الواحة</title>'
             '<meta property="og:title" content="توسعة الميناء التجاري">'
             '<meta property="article:published_time" content="2026-11-10T20:00:00+03:00">'
             '<meta name="author" content="مكتب الأخبار">')


class BylinedSite(CountingSite):
    """A feed whose one entry names its title, date and author; the page's metadata name others."""

    def __init__(self) -> None:
        super().__init__()
        self.app.router.add_get("/rss.xml", self.rss)
        self.app.router.add_get("/news/port", self.article)

    async def rss(self, request: web.Request) -> web.Response:
        title, date, author = ENTRY
        feed = ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
                'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>الواحة</title>'
                f"<item><title>{title}</title><link>{self.base}/news/port</link><pubDate>{date}</pubDate>"
                f"<dc:creator>{author}</dc:creator></item></channel></rss>")
        return web.Response(text=feed, content_type="application/rss+xml")

    async def article(self, request: web.Request) -> web.Response:
        headline, body = ARTICLES["port"]
        page = f"<html><head>{PAGE_HEAD}</head><body><h1>{headline}</h1><p>{body}</p></body></html>"
        return web.Response(text=page, content_type="text/html")


@contextlib.asynccontextmanager
async def serve(site: CountingSite) -> AsyncIterator[str]:
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
def redis_url(redis_server: EmbeddedRedis) -> str:
    return redis_server.url


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
async def unruly() -> AsyncIterator[UnrulySite]:
    misbehaving = UnrulySite()
    async with serve(misbehaving):
        yield misbehaving


@pytest.fixture
async def impatient_fetcher() -> AsyncIterator[Fetcher]:
    """Gives up on a stalled response within half a second, so the stall costs little test time."""
    settings = FetchSettings(allowed_networks=("127.0.0.0/8",), retry_base_delay=0.01, per_host_delay=0.0,
                             max_attempts=2, read_timeout=0.5, total_timeout=0.5)
    async with Fetcher(settings) as client:
        yield client


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


async def test_a_polled_item_keeps_its_feed_title_date_and_author(
        redis: aioredis.Redis, keys: Keys, fetcher: Fetcher) -> None:
    outbox = Outbox()
    bylined = BylinedSite()
    async with serve(bylined):
        wahat = source("wahat", bylined.base)
        poller = FeedPoller([wahat], fetcher=fetcher, redis=redis, keys=keys, publish=outbox.publish)
        assert (await poller.poll_once(wahat)).published == 1
    [document] = outbox.documents
    # Through the ingest core as the worker runs it: the feed's fields win over the page's metadata.
    article = build_article(document, clean_document(document))
    title, _, author = ENTRY
    assert (article["title"], article["published_at"], article["author"]) == (
        title, "2026-11-11T06:30:00.000Z", author)
    assert ARTICLES["port"][1] in article["text"]


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
        # Wait on the recorded failures, not on the server's hit count: the fetcher's own retry
        # hits the broken feed twice within a single poll, before that poll has been recorded.
        async with asyncio.timeout(15):
            while len(outbox.documents) < 2 or (await poller.feed_state(broken)).consecutive_failures < 2:
                await asyncio.sleep(0.05)
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    assert len(outbox.documents) == 2
    state = await poller.feed_state(broken)
    assert state.consecutive_failures >= 2 and state.last_status == "503" and state.last_success is None
    assert site.hits["/broken.xml"] >= 4  # two polls, each retried once
    assert metric("marsad_feed_polls_total", source=broken.name, result="error") >= 1
    assert metric("marsad_feed_http_responses_total", source=broken.name, status_class="5xx") >= 1
    assert metric("marsad_feed_errors_total", source=broken.name, stage="feed", reason="http_status") >= 1


async def test_the_poller_stops_even_when_a_call_swallowed_its_cancellation(
        site: NewsSite, redis: aioredis.Redis, keys: Keys, fetcher: Fetcher) -> None:
    """On Python 3.11 redis-py's writes (asyncio.wait_for) can swallow a cancellation; CI once saw a
    cancelled poller run on for ten minutes. Here the first publish swallows it in the same way."""
    outbox = Outbox()
    publishing = asyncio.Event()

    async def publish_swallowing_the_cancel(document: dict[str, Any]) -> None:
        if not publishing.is_set():
            publishing.set()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(30)
        await outbox.publish(document)

    wahat = source("wahat", site.base, interval=0.2)
    poller = FeedPoller([wahat], fetcher=fetcher, redis=redis, keys=keys, publish=publish_swallowing_the_cancel)
    running = asyncio.create_task(poller.run())
    await asyncio.wait_for(publishing.wait(), timeout=15)
    running.cancel()
    done, _ = await asyncio.wait([running], timeout=10)
    if not done:  # do not leave it polling behind the other tests
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    assert running in done and running.cancelled()
    assert len(outbox.documents) == 2  # the poll in progress finished: nothing half done


async def test_a_misbehaving_site_loses_nothing_else(
        unruly: UnrulySite, redis: aioredis.Redis, keys: Keys, impatient_fetcher: Fetcher) -> None:
    outbox = Outbox()
    hayy = source("hayy", unruly.base)
    poller = FeedPoller([hayy], fetcher=impatient_fetcher, redis=redis, keys=keys, publish=outbox.publish,
                        max_item_attempts=2, article_max_bytes=UNRULY_ARTICLE_MAX_BYTES)

    first = await poller.poll_once(hayy)
    assert (first.result, first.new_items, first.published, first.pending, first.dropped) == ("ok", 11, 7, 4, 0)
    assert (await poller.feed_state(hayy)).etag is None  # four items are pending: no 304 next time
    second = await poller.poll_once(hayy)
    assert (second.result, second.new_items, second.published, second.pending, second.dropped) == (
        "ok", 4, 0, 0, 4)
    third = await poller.poll_once(hayy)
    assert third.result == "not_modified"

    # Every good and recoverable page published exactly once; the others given up, nothing else lost.
    urls = Counter(doc["url"] for doc in outbox.documents)
    assert urls == Counter({f"{unruly.base}/news/{slug}": 1 for slug in RECOVERABLE})
    assert await redis.zcard(poller.seen_key(hayy)) == len(RECOVERABLE) + len(UNRECOVERABLE)
    assert await redis.hlen(poller.failures_key(hayy)) == 0
    assert unruly.hits["/news/flaky"] == unruly.hits["/news/throttled"] == 2
    assert unruly.hits["/news/stalled"] == 4  # two polls, two attempts each
    assert unruly.hits["/news/huge"] == unruly.hits["/news/loop"] == unruly.hits["/news/loop-back"] == 2
    assert unruly.hits["/news/private"] == 0

    # The published bytes decode to the right Arabic through the real ingest core.
    for doc in outbox.documents:
        slug = doc["url"].rsplit("/", 1)[1]
        title, text, evidence = RECOVERABLE[slug]
        extracted = extract_document(doc)
        assert extracted.charset_evidence == evidence, slug
        assert extracted.page is not None and extracted.page.title == title, slug
        assert text in extracted.page.text and doc["title"] == title, slug
    charsets = {doc["url"].rsplit("/", 1)[1]: doc["charset"] for doc in outbox.documents}
    assert charsets["legacy"] == "windows-1256" and charsets["mislabelled"] == "iso-8859-1"
    assert charsets["unlabelled"] is None and charsets["bare-utf8"] is None

    # Each misbehaviour counted, under a bounded label.
    def counted(name: str, **labels: str) -> float:
        return metric(name, source=hayy.name, **labels)

    for reason in UNRECOVERABLE.values():
        assert counted("marsad_feed_errors_total", stage="article", reason=reason) == 2, reason
    assert counted("marsad_feed_retries_total", reason="throttled") == 1
    assert counted("marsad_feed_retries_total", reason="server_error") == 1
    assert counted("marsad_feed_retries_total", reason="timeout") == 2
    assert counted("marsad_feed_retries_total", reason="connection") == 0
    # Final statuses: two feeds and seven pages, one 304, eight failures with no response to count.
    assert counted("marsad_feed_http_responses_total", status_class="2xx") == 2 + len(RECOVERABLE)
    assert counted("marsad_feed_http_responses_total", status_class="3xx") == 1
    assert counted("marsad_feed_http_responses_total", status_class="error") == 2 * len(UNRECOVERABLE)
    assert counted("marsad_feed_http_responses_total", status_class="4xx") == 0
    assert counted("marsad_feed_http_responses_total", status_class="5xx") == 0
    assert counted("marsad_feed_items_total") == len(RECOVERABLE)
    assert counted("marsad_feed_polls_total", result="ok") == 2
    assert counted("marsad_feed_polls_total", result="not_modified") == 1
    assert counted("marsad_feed_polls_total", result="error") == 0


async def test_a_cut_feed_fails_the_poll_and_a_flaky_one_is_retried(
        unruly: UnrulySite, redis: aioredis.Redis, keys: Keys, fetcher: Fetcher) -> None:
    outbox = Outbox()
    unruly.listed = ["council", "legacy", "bare-utf8"]
    hayy = source("hayy", unruly.base)
    poller = FeedPoller([hayy], fetcher=fetcher, redis=redis, keys=keys, publish=outbox.publish)

    # Cut before its first item, under the full feed's ETag: a failed poll that keeps no ETag.
    unruly.feed_mode = "cut"
    cut = await poller.poll_once(hayy)
    assert (cut.result, cut.error, cut.status) == ("error", "parse", None)
    state = await poller.feed_state(hayy)
    assert state.etag is None and state.consecutive_failures == 1 and state.last_status == "error:parse"
    assert metric("marsad_feed_errors_total", source=hayy.name, stage="feed", reason="parse") == 1
    assert metric("marsad_feed_polls_total", source=hayy.name, result="error") == 1
    assert not outbox.documents and unruly.hits["/rss.xml"] == 1

    # A 500 then the feed, within one poll: everything is published and the retry is counted.
    unruly.feed_mode = "flaky"
    recovered = await poller.poll_once(hayy)
    assert (recovered.result, recovered.published) == ("ok", 3)
    assert sorted(doc["url"] for doc in outbox.documents) == sorted(
        f"{unruly.base}/news/{slug}" for slug in unruly.listed)
    assert unruly.hits["/rss.xml"] == 3
    assert metric("marsad_feed_retries_total", source=hayy.name, reason="server_error") == 1
    assert metric("marsad_feed_http_responses_total", source=hayy.name, status_class="5xx") == 0
    assert metric("marsad_feed_polls_total", source=hayy.name, result="ok") == 1
    assert metric("marsad_feed_consecutive_failures", source=hayy.name) == 0
    assert (await poller.feed_state(hayy)).etag == '"3"'
