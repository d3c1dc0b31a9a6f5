"""The fetcher against a real HTTP server on 127.0.0.1 (aiohttp), never a mocked client."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from aiohttp import web

from services import __version__
from services.ingest.decoding import decode_bytes
from services.ingest.feed_metrics import retry_reason
from services.ingest.http import (
    USER_AGENT,
    AddressGuard,
    BadContentType,
    BlockedAddress,
    ConnectionFailed,
    Fetcher,
    FetchError,
    FetchSettings,
    FetchTimeout,
    HTTPStatusError,
    RobotsDisallowed,
    TooLarge,
    TooManyRedirects,
    _retry_after,
)

PAGE = "<html><head><title>خبر</title></head><body><p>افتتح المجلس البلدي في المدينة حديقة عامة جديدة صباح اليوم.</p></body></html>"
LOOPBACK = ("127.0.0.0/8", "::1/128")


class Site:
    """A small news site with every misbehaviour the fetcher has to survive."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.user_agents: list[str] = []
        self.hosts: list[str] = []
        self.starts: list[float] = []
        self.app = web.Application()
        self.app.middlewares.append(self._count)
        routes = {
            "/robots.txt": self.robots, "/article": self.article, "/legacy": self.legacy,
            "/private/secret": self.article, "/throttled": self.throttled, "/flaky": self.flaky,
            "/down": self.down, "/missing": self.missing, "/endless": self.endless, "/declared-huge": self.huge,
            "/loop-a": self.loop_a, "/loop-b": self.loop_b, "/chain/{n}": self.chain, "/moved": self.moved,
            "/to-private": self.to_private, "/to-metadata": self.to_metadata, "/pdf": self.pdf,
            "/slow": self.slow, "/tagged": self.tagged,
        }
        for path, handler in routes.items():
            self.app.router.add_get(path, handler)
        self.flaky_failures = 2

    @web.middleware
    async def _count(self, request: web.Request, handler: web.RequestHandler) -> web.StreamResponse:
        self.hits[request.path] += 1
        self.user_agents.append(request.headers.get("User-Agent", ""))
        self.hosts.append(request.headers.get("Host", ""))
        self.starts.append(time.monotonic())
        return await handler(request)

    async def robots(self, request: web.Request) -> web.Response:
        return web.Response(text="User-agent: *\nDisallow: /private/\n", content_type="text/plain")

    async def article(self, request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html", charset="utf-8")

    async def legacy(self, request: web.Request) -> web.Response:
        return web.Response(body=PAGE.encode("windows-1256"),
                            headers={"Content-Type": "text/html; charset=windows-1256"})

    async def throttled(self, request: web.Request) -> web.Response:
        if self.hits[request.path] == 1:
            return web.Response(status=429, headers={"Retry-After": "1"})
        return await self.article(request)

    async def flaky(self, request: web.Request) -> web.Response:
        if self.hits[request.path] <= self.flaky_failures:
            return web.Response(status=503, text="busy")
        return await self.article(request)

    async def down(self, request: web.Request) -> web.Response:
        return web.Response(status=503, text="down")

    async def missing(self, request: web.Request) -> web.Response:
        return web.Response(status=404, text="no such article")

    async def endless(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        chunk = b"<p>" + "كلام ".encode() * 2000 + b"</p>"
        with contextlib.suppress(ConnectionError):
            for _ in range(100_000):  # far more than any cap; the client must hang up first
                await response.write(chunk)
        return response

    async def huge(self, request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 300_000, content_type="text/html")

    async def loop_a(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop-b")

    async def loop_b(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop-a")

    async def chain(self, request: web.Request) -> web.Response:
        raise web.HTTPFound(f"/chain/{int(request.match_info['n']) + 1}")

    async def moved(self, request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("article")  # relative, resolved against the current URL

    async def to_private(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("http://10.0.0.1/admin")

    async def to_metadata(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")

    async def pdf(self, request: web.Request) -> web.Response:
        return web.Response(body=b"%PDF-1.7", content_type="application/pdf")

    async def slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return await self.article(request)

    async def tagged(self, request: web.Request) -> web.Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304, headers={"ETag": '"v1"'})
        return web.Response(text=PAGE, content_type="text/html", headers={"ETag": '"v1"',
                            "Last-Modified": "Wed, 11 Nov 2026 08:00:00 GMT"})


@contextlib.asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


def fast_settings(**changes: object) -> FetchSettings:
    defaults: dict[str, object] = {"allowed_networks": LOOPBACK, "retry_base_delay": 0.01, "per_host_delay": 0.0,
                                   "max_bytes": 100_000}
    return FetchSettings(**{**defaults, **changes})  # type: ignore[arg-type]


@pytest.fixture
async def site() -> AsyncIterator[tuple[Site, str]]:
    news = Site()
    async with serve(news.app) as base:
        yield news, base


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    async with Fetcher(fast_settings()) as client:
        yield client


async def test_fetches_a_page_with_a_clear_user_agent(site: tuple[Site, str], fetcher: Fetcher) -> None:
    news, base = site
    result = await fetcher.fetch(f"{base}/article")
    assert result.status == 200 and not result.not_modified
    assert result.content.decode("utf-8") == PAGE
    assert result.charset == "utf-8" and result.media_type == "text/html"
    assert result.final_url == result.url == f"{base}/article"
    assert result.elapsed > 0
    assert f"Marsad/{__version__} (+https://github.com/marsad; news monitoring)" == USER_AGENT
    assert set(news.user_agents) == {USER_AGENT}  # robots.txt and the page alike


async def test_legacy_arabic_charset_is_reported_and_bytes_kept(site: tuple[Site, str], fetcher: Fetcher) -> None:
    _, base = site
    result = await fetcher.fetch(f"{base}/legacy")
    assert result.charset == "windows-1256"
    assert result.content == PAGE.encode("windows-1256")
    assert decode_bytes(result.content, result.charset) == PAGE


async def test_robots_txt_is_honoured_and_cached(site: tuple[Site, str], fetcher: Fetcher) -> None:
    news, base = site
    with pytest.raises(RobotsDisallowed, match=r"robots\.txt"):
        await fetcher.fetch(f"{base}/private/secret")
    assert news.hits["/private/secret"] == 0
    await fetcher.fetch(f"{base}/article")
    await fetcher.fetch(f"{base}/legacy")
    assert news.hits["/robots.txt"] == 1
    assert not await fetcher.allowed_by_robots(f"{base}/private/other")


async def test_robots_can_be_switched_off(site: tuple[Site, str]) -> None:
    news, base = site
    async with Fetcher(fast_settings(respect_robots=False)) as client:
        await client.fetch(f"{base}/private/secret")
    assert news.hits["/robots.txt"] == 0 and news.hits["/private/secret"] == 1


async def test_429_waits_for_retry_after(site: tuple[Site, str], fetcher: Fetcher) -> None:
    news, base = site
    retries: list[tuple[FetchError, float]] = []
    started = time.monotonic()
    result = await fetcher.fetch(f"{base}/throttled", on_retry=lambda error, delay: retries.append((error, delay)))
    assert result.status == 200
    assert news.hits["/throttled"] == 2
    assert time.monotonic() - started >= 0.95
    [(error, delay)] = retries  # the success still leaves a trace
    assert isinstance(error, HTTPStatusError) and error.status == 429 and delay == 1.0


async def test_retry_after_longer_than_we_wait_fails_with_the_delay(site: tuple[Site, str]) -> None:
    _, base = site
    async with Fetcher(fast_settings(max_retry_after=0.5)) as client:
        with pytest.raises(HTTPStatusError) as caught:
            await client.fetch(f"{base}/throttled")
    assert caught.value.status == 429 and caught.value.retryable and caught.value.retry_after == 1.0


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert _retry_after("7") == 7.0
    in_a_minute = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    assert 55 <= (_retry_after(in_a_minute) or 0) <= 60
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: now
    assert _retry_after("soon") is None and _retry_after(None) is None


async def test_503_is_retried_with_backoff_until_it_works(site: tuple[Site, str], fetcher: Fetcher) -> None:
    news, base = site
    retries: list[tuple[FetchError, float]] = []
    result = await fetcher.fetch(f"{base}/flaky", on_retry=lambda error, delay: retries.append((error, delay)))
    assert result.status == 200 and news.hits["/flaky"] == 3
    assert [error.status for error, _ in retries if isinstance(error, HTTPStatusError)] == [503, 503]
    first, second = (delay for _, delay in retries)
    assert 0.005 <= first <= 0.01 and 0.01 <= second <= 0.02  # equal jitter on a doubling ceiling


async def test_attempts_are_bounded(site: tuple[Site, str], fetcher: Fetcher) -> None:
    news, base = site
    retries: list[FetchError] = []
    with pytest.raises(HTTPStatusError) as caught:
        await fetcher.fetch(f"{base}/down", on_retry=lambda error, delay: retries.append(error))
    assert caught.value.status == 503 and caught.value.retryable and caught.value.reason == "http_status"
    assert news.hits["/down"] == fetcher.settings.max_attempts
    assert len(retries) == fetcher.settings.max_attempts - 1  # the last failure is raised, not retried


async def test_client_errors_are_not_retried(site: tuple[Site, str], fetcher: Fetcher) -> None:
    news, base = site
    with pytest.raises(HTTPStatusError, match="404") as caught:
        await fetcher.fetch(f"{base}/missing")
    assert not caught.value.retryable and news.hits["/missing"] == 1


async def test_endless_body_is_cut_at_the_cap(site: tuple[Site, str], fetcher: Fetcher) -> None:
    _, base = site
    started = time.monotonic()
    with pytest.raises(TooLarge, match="100000-byte cap"):
        await fetcher.fetch(f"{base}/endless")
    assert time.monotonic() - started < 10


async def test_declared_length_over_the_cap_is_refused_unread(site: tuple[Site, str], fetcher: Fetcher) -> None:
    _, base = site
    with pytest.raises(TooLarge, match="Content-Length 300000"):
        await fetcher.fetch(f"{base}/declared-huge")
    result = await fetcher.fetch(f"{base}/declared-huge", max_bytes=400_000)
    assert len(result.content) == 300_000


async def test_redirect_loop_and_long_chains_stop(site: tuple[Site, str], fetcher: Fetcher) -> None:
    news, base = site
    with pytest.raises(TooManyRedirects, match="loop"):
        await fetcher.fetch(f"{base}/loop-a")
    with pytest.raises(TooManyRedirects, match="more than 5"):
        await fetcher.fetch(f"{base}/chain/0")
    assert sum(news.hits[f"/chain/{n}"] for n in range(10)) == 6


async def test_relative_redirect_is_followed(site: tuple[Site, str], fetcher: Fetcher) -> None:
    _, base = site
    result = await fetcher.fetch(f"{base}/moved")
    assert result.url == f"{base}/moved" and result.final_url == f"{base}/article"


@pytest.mark.parametrize("path", ["/to-private", "/to-metadata"])
async def test_redirect_to_an_internal_address_is_refused(site: tuple[Site, str], fetcher: Fetcher,
                                                          path: str) -> None:
    _, base = site
    started = time.monotonic()
    with pytest.raises(BlockedAddress, match="refusing"):
        await fetcher.fetch(base + path)
    assert time.monotonic() - started < 1  # refused, not a connect attempt timing out


async def test_loopback_is_refused_unless_allow_listed(site: tuple[Site, str]) -> None:
    news, base = site
    async with Fetcher(FetchSettings(retry_base_delay=0.01)) as client:
        with pytest.raises(BlockedAddress, match="loopback"):
            await client.fetch(f"{base}/article")
    assert sum(news.hits.values()) == 0


async def test_connection_goes_to_the_checked_address(site: tuple[Site, str]) -> None:
    """The host name is resolved once, by the guard's resolver, and the connection uses its answer."""
    news, base = site
    port = int(base.rsplit(":", 1)[1])

    async def resolver(host: str, port: int) -> list[str]:
        assert host == "news.example"
        return ["127.0.0.1"]

    guard = AddressGuard(allowed_networks=LOOPBACK, resolver=resolver)
    async with Fetcher(fast_settings(), guard=guard) as client:
        result = await client.fetch(f"http://news.example:{port}/article")
    assert result.status == 200 and f"news.example:{port}" in news.hosts


async def test_conditional_get_returns_not_modified(site: tuple[Site, str], fetcher: Fetcher) -> None:
    _, base = site
    first = await fetcher.fetch(f"{base}/tagged")
    assert first.etag == '"v1"' and first.last_modified == "Wed, 11 Nov 2026 08:00:00 GMT"
    again = await fetcher.fetch(f"{base}/tagged", etag=first.etag, last_modified=first.last_modified)
    assert again.not_modified and again.status == 304 and again.content == b""
    assert again.etag == '"v1"' and again.last_modified == first.last_modified


async def test_content_type_is_checked(site: tuple[Site, str], fetcher: Fetcher) -> None:
    _, base = site
    with pytest.raises(BadContentType, match="application/pdf"):
        await fetcher.fetch(f"{base}/pdf")
    assert (await fetcher.fetch(f"{base}/pdf", accept=None)).content == b"%PDF-1.7"


async def test_slow_server_times_out(site: tuple[Site, str]) -> None:
    _, base = site
    async with Fetcher(fast_settings(read_timeout=0.2, max_attempts=2)) as client:
        with pytest.raises(FetchTimeout) as caught:
            await client.fetch(f"{base}/slow")
    assert caught.value.retryable
    async with Fetcher(fast_settings(total_timeout=0.3, max_attempts=1)) as client:
        with pytest.raises(FetchTimeout, match=r"within 0\.3s"):
            await client.fetch(f"{base}/slow")


async def test_refused_connection_is_a_retryable_error(fetcher: Fetcher) -> None:
    from services.common.embedded import free_port

    with pytest.raises(ConnectionFailed) as caught:
        await fetcher.fetch(f"http://127.0.0.1:{free_port()}/article")
    assert caught.value.retryable and caught.value.reason == "connection"


async def test_requests_to_one_host_are_spaced(site: tuple[Site, str]) -> None:
    news, base = site
    async with Fetcher(fast_settings(per_host_delay=0.3, respect_robots=False)) as client:
        await asyncio.gather(client.fetch(f"{base}/article"), client.fetch(f"{base}/legacy"),
                             client.fetch(f"{base}/article"))
    gaps = [later - earlier for earlier, later in zip(news.starts, news.starts[1:], strict=False)]
    assert len(gaps) == 2 and min(gaps) >= 0.28


@pytest.mark.parametrize("address, reason", [
    ("127.0.0.1", "loopback"), ("10.1.2.3", "private"), ("192.168.0.10", "private"),
    ("169.254.10.1", "link-local"), ("169.254.169.254", "metadata"), ("fd00:ec2::254", "metadata"),
    ("224.0.0.1", "multicast"), ("240.0.0.1", "reserved"), ("0.0.0.0", "unspecified"), ("::1", "loopback"),
    ("::ffff:10.0.0.1", "private"), ("100.64.0.1", "not a public"), ("fe80::1", "link-local"),
])
def test_guard_refuses_non_public_addresses(address: str, reason: str) -> None:
    refusal = AddressGuard().refusal(ipaddress.ip_address(address))
    assert refusal is not None and reason in refusal


def test_guard_allows_public_and_allow_listed_addresses() -> None:
    guard = AddressGuard(allowed_networks=["10.0.0.0/8", "169.254.0.0/16"])
    assert guard.refusal(ipaddress.ip_address("93.184.216.34")) is None
    assert guard.refusal(ipaddress.ip_address("2a00:1450:4001::200e")) is None
    assert guard.refusal(ipaddress.ip_address("10.9.8.7")) is None
    # Metadata stays closed inside a wider allowed network...
    assert guard.refusal(ipaddress.ip_address("169.254.169.254")) is not None
    # ...and opens only when listed on its own.
    assert AddressGuard(allowed_networks=["169.254.169.254/32"]).refusal(
        ipaddress.ip_address("169.254.169.254")) is None


async def test_guard_checks_every_resolved_address() -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.0.0.7"]

    with pytest.raises(BlockedAddress, match=r"10\.0\.0\.7"):
        await AddressGuard(resolver=resolver).check("mixed.example", 80)
    assert await AddressGuard(allowed_hosts=["mixed.example"], resolver=resolver).check("mixed.example", 80)


def test_retry_reasons_are_a_small_fixed_set() -> None:
    def status(code: int) -> HTTPStatusError:
        return HTTPStatusError(f"HTTP {code}", url="http://a.example/", status=code)

    assert [retry_reason(status(429)), retry_reason(status(500)), retry_reason(status(503))] == [
        "throttled", "server_error", "server_error"]
    assert retry_reason(FetchTimeout("slow", url="http://a.example/")) == "timeout"
    assert retry_reason(ConnectionFailed("refused", url="http://a.example/")) == "connection"
