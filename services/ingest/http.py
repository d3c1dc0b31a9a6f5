"""Fetching from the open web politely and safely.

:class:`Fetcher` is the only way Marsad talks to news sites. Every request it makes:

* goes to a public address: the host is resolved with the event loop's resolver and *every*
  address is checked against private, loopback, link-local, multicast, reserved and cloud-metadata
  ranges, before connecting and on each redirect hop; the connection itself is made only to an
  address that passed, so a DNS answer that changes between check and connect changes nothing;
* is allowed by the site's robots.txt (cached per origin) and spaced from the previous request to
  the same host, with a bounded number in flight per host;
* is conditional when the caller has an ETag or Last-Modified, so an unchanged feed costs a 304;
* is retried with exponential backoff and jitter on timeouts, connection errors, 429 and 5xx,
  honouring Retry-After, a bounded number of times;
* has connect, read and total timeouts, a cap on the body (streamed, aborted past the cap), a cap
  on redirects (followed by hand so each hop is checked) and a content-type check.

Failures are :class:`FetchError` subclasses with a short ``reason`` for metrics and a
``retryable`` flag saying whether a later attempt may succeed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import random
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import ClassVar
from urllib.parse import SplitResult, urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import certifi
import httpcore
import httpx

from services import __version__

log = logging.getLogger(__name__)

USER_AGENT = f"Marsad/{__version__} (+https://github.com/marsad; news monitoring)"

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
XML_TYPES = frozenset({"application/xml", "text/xml"})
FEED_TYPES = XML_TYPES | {"application/rss+xml", "application/atom+xml", "application/rdf+xml",
                          "application/x-rss+xml", "text/plain"}
SITEMAP_TYPES = XML_TYPES | {"text/plain", "application/x-gzip", "application/gzip"}
TEXT_TYPES = frozenset({"text/plain"})

# Addresses that front cloud instance metadata: refused even inside an allow-listed network unless
# listed on their own, because reaching them from a crawler is how credentials leak.
METADATA_ADDRESSES = (ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"))
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309 lets crawlers stop reading at 500 KiB

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]
# Told of each retry before its wait: the error that caused it and the seconds until the next attempt.
RetryHook = Callable[["FetchError", float], None]


# -- errors ----------------------------------------------------------------------------------------

class FetchError(Exception):
    """A URL could not be fetched. ``reason`` is a short, bounded label for metrics."""

    reason: ClassVar[str] = "error"
    retryable: bool = False

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


class InvalidURL(FetchError):
    reason = "invalid_url"


class BlockedAddress(FetchError):
    reason = "blocked_address"


class RobotsDisallowed(FetchError):
    reason = "robots"


class TooLarge(FetchError):
    reason = "too_large"


class BadContentType(FetchError):
    reason = "content_type"


class TooManyRedirects(FetchError):
    reason = "redirects"


class FetchTimeout(FetchError):
    reason = "timeout"
    retryable = True


class ConnectionFailed(FetchError):
    reason = "connection"
    retryable = True


class HTTPStatusError(FetchError):
    reason = "http_status"

    def __init__(self, message: str, *, url: str, status: int, retry_after: float | None = None) -> None:
        super().__init__(message, url=url)
        self.status = status
        self.retry_after = retry_after
        self.retryable = status == 429 or status >= 500


# -- settings and results --------------------------------------------------------------------------

@dataclass(frozen=True)
class FetchSettings:
    user_agent: str = USER_AGENT
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_timeout: float = 60.0  # one attempt, from connecting to the last byte
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    max_attempts: int = 4
    retry_base_delay: float = 1.0
    retry_max_delay: float = 60.0
    max_retry_after: float = 120.0  # a longer Retry-After is not slept through: the fetch fails
    per_host_concurrency: int = 2
    per_host_delay: float = 1.0  # seconds between the starts of two requests to one host
    max_crawl_delay: float = 30.0  # robots.txt Crawl-delay is honoured up to this
    respect_robots: bool = True
    robots_ttl: float = 3600.0
    robots_error_ttl: float = 300.0  # robots.txt unreachable: everything is off limits this long
    # Hosts (exact names) and networks (CIDR) that may be fetched although not public.
    allowed_hosts: tuple[str, ...] = ()
    allowed_networks: tuple[str, ...] = ()


@dataclass(frozen=True)
class FetchResult:
    url: str
    final_url: str
    status: int
    headers: Mapping[str, str]
    content: bytes
    charset: str | None
    etag: str | None
    last_modified: str | None
    not_modified: bool
    elapsed: float

    @property
    def media_type(self) -> str | None:
        return _media_type(self.headers.get("content-type"))


# -- the address guard -----------------------------------------------------------------------------

class AddressGuard:
    """Refuses hosts that resolve to any non-public address, unless allow-listed."""

    def __init__(self, allowed_hosts: Iterable[str] = (), allowed_networks: Iterable[str] = (),
                 resolver: Resolver | None = None) -> None:
        self.allowed_hosts = frozenset(host.lower().rstrip(".") for host in allowed_hosts)
        self.allowed_networks: tuple[IPNetwork, ...] = tuple(
            ipaddress.ip_network(network, strict=False) for network in allowed_networks)
        self._resolve = resolver or _resolve

    async def check(self, host: str, port: int, *, url: str = "") -> list[str]:
        """The addresses ``host`` resolves to, all of them allowed, or :class:`BlockedAddress`."""
        host = host.strip("[]")
        try:
            addresses = await self._resolve(host, port)
        except OSError as exc:
            raise ConnectionFailed(f"cannot resolve {host}: {exc}", url=url or host) from None
        if not addresses:
            raise ConnectionFailed(f"{host} resolves to no address", url=url or host)
        if host.lower().rstrip(".") in self.allowed_hosts:
            return addresses
        for address in addresses:
            reason = self.refusal(ipaddress.ip_address(address.split("%", 1)[0]))
            if reason:
                raise BlockedAddress(f"refusing {host}: it resolves to {address}, {reason}", url=url or host)
        return addresses

    def refusal(self, address: IPAddress) -> str | None:
        """Why ``address`` may not be fetched, or None when it may."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if address in METADATA_ADDRESSES:
            exact = any(net.num_addresses == 1 and address in net for net in self.allowed_networks)
            return None if exact else "a cloud metadata address"
        if any(address in net for net in self.allowed_networks):
            return None
        # Most specific first: Python counts loopback, link-local and reserved ranges as private too.
        for kind in ("unspecified", "loopback", "link_local", "multicast", "reserved", "private"):
            if getattr(address, f"is_{kind}"):
                return f"a {kind.replace('_', '-')} address"
        if not address.is_global:
            return "not a public address"
        return None


async def _resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class _GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses the guard has just approved (no second, unchecked DNS lookup)."""

    def __init__(self, guard: AddressGuard) -> None:
        self._guard = guard
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        addresses = await self._guard.check(host, port)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                                     socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
                                  ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are never used for fetching")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, guard: AddressGuard, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)
        # httpx has no public hook for the network backend, so the pool is rebuilt with ours.
        if not hasattr(self, "_pool"):
            raise RuntimeError(f"httpx {httpx.__version__} changed its transport; the address guard needs updating")
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl.create_default_context(cafile=certifi.where()),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedNetworkBackend(guard),
        )


# -- per-host politeness ---------------------------------------------------------------------------

class _HostGate:
    """At most ``concurrency`` requests in flight to a host, starting at least ``interval`` apart."""

    def __init__(self, concurrency: int, interval: float) -> None:
        self.interval = interval
        self._slots = asyncio.Semaphore(concurrency)
        self._spacing = asyncio.Lock()
        self._next_start = 0.0

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        async with self._slots:
            async with self._spacing:
                wait = self._next_start - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                self._next_start = time.monotonic() + self.interval
            yield

    @property
    def idle(self) -> bool:
        return not self._slots.locked() and time.monotonic() >= self._next_start


@dataclass
class _Robots:
    parser: RobotFileParser | None  # None: nothing is allowed (robots.txt unreachable)
    expires: float
    failure: str = ""


@dataclass
class _Hop:
    """The outcome of one request: a body, a 304, or a redirect to follow."""

    status: int
    headers: httpx.Headers
    content: bytes = b""
    location: str | None = None
    charset: str | None = None


@dataclass
class _Budget:
    attempts: int
    max_bytes: int
    accept: Collection[str] | None
    request_headers: dict[str, str] = field(default_factory=dict)
    truncate: bool = False  # past max_bytes: keep what was read instead of failing
    on_retry: RetryHook | None = None


# -- the fetcher -----------------------------------------------------------------------------------

class Fetcher:
    """Polite, guarded GETs; one per process, shared by every source. Close with :meth:`aclose`."""

    def __init__(self, settings: FetchSettings | None = None, *, guard: AddressGuard | None = None) -> None:
        self.settings = settings = settings or FetchSettings()
        self.guard = guard or AddressGuard(settings.allowed_hosts, settings.allowed_networks)
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=30)
        self._client = httpx.AsyncClient(
            transport=_GuardedTransport(self.guard, limits),
            timeout=httpx.Timeout(connect=settings.connect_timeout, read=settings.read_timeout,
                                  write=settings.read_timeout, pool=settings.connect_timeout),
            headers={"User-Agent": settings.user_agent},
            follow_redirects=False,
            trust_env=False,
        )
        self._gates: dict[str, _HostGate] = {}
        self._robots: dict[str, _Robots] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def fetch(self, url: str, *, accept: Collection[str] | None = HTML_TYPES, etag: str | None = None,
                    last_modified: str | None = None, max_bytes: int | None = None,
                    on_retry: RetryHook | None = None) -> FetchResult:
        """GET ``url``, following redirects; ``accept`` lists the media types wanted (None: any).

        With ``etag`` or ``last_modified`` the request is conditional and an unchanged resource
        comes back as a result with ``not_modified`` set and no content. ``on_retry`` is called once
        per retry, so a fetch that succeeds after a 429 or a 5xx still leaves a trace.
        """
        headers = {"Accept": _accept_header(accept)}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        budget = _Budget(self.settings.max_attempts, max_bytes or self.settings.max_bytes, accept, headers,
                         on_retry=on_retry)
        started = time.monotonic()
        final_url, hop = await self._follow(url, budget, check_robots=self.settings.respect_robots)
        not_modified = hop.status == 304
        return FetchResult(
            url=url, final_url=final_url, status=hop.status,
            headers={name.lower(): value for name, value in hop.headers.items()},
            content=hop.content, charset=hop.charset,
            etag=hop.headers.get("etag") or (etag if not_modified else None),
            last_modified=hop.headers.get("last-modified") or (last_modified if not_modified else None),
            not_modified=not_modified, elapsed=time.monotonic() - started)

    async def allowed_by_robots(self, url: str) -> bool:
        """Whether robots.txt lets Marsad fetch ``url`` (False too when robots.txt is unreachable)."""
        try:
            await self._check_robots(url)
        except RobotsDisallowed:
            return False
        return True

    # -- redirects ---------------------------------------------------------------------------------

    async def _follow(self, url: str, budget: _Budget, *, check_robots: bool) -> tuple[str, _Hop]:
        current = url
        visited = {url}
        for _ in range(self.settings.max_redirects + 1):
            parts = _checked_url(current)
            await self.guard.check(parts.hostname or "", _port(parts), url=current)
            if check_robots:
                await self._check_robots(current)
            hop = await self._with_retries(current, budget)
            if hop.location is None:
                return current, hop
            target = urljoin(current, hop.location)
            if target in visited:
                raise TooManyRedirects(f"redirect loop: {current} leads back to {target}", url=url)
            visited.add(target)
            current = target
        raise TooManyRedirects(f"more than {self.settings.max_redirects} redirects, last to {current}", url=url)

    # -- retries -----------------------------------------------------------------------------------

    async def _with_retries(self, url: str, budget: _Budget) -> _Hop:
        attempt = 1
        while True:
            try:
                return await self._attempt(url, budget)
            except FetchError as exc:
                if not exc.retryable or attempt >= budget.attempts:
                    raise
                delay = self._retry_delay(attempt, exc)
                if delay is None:
                    raise
                log.info("retrying %s in %.2fs (attempt %d of %d): %s", url, delay, attempt + 1,
                         budget.attempts, exc)
                if budget.on_retry is not None:
                    budget.on_retry(exc, delay)
                await asyncio.sleep(delay)
                attempt += 1

    def _retry_delay(self, attempt: int, error: FetchError) -> float | None:
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            # The server said when; sleeping longer than we are willing to wait is the caller's call.
            return retry_after if retry_after <= self.settings.max_retry_after else None
        ceiling = min(self.settings.retry_max_delay, self.settings.retry_base_delay * 2 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # "equal jitter": spread, never near zero

    # -- one request -------------------------------------------------------------------------------

    async def _attempt(self, url: str, budget: _Budget) -> _Hop:
        async with self._gate(url).turn():
            try:
                async with asyncio.timeout(self.settings.total_timeout):
                    return await self._request(url, budget)
            except TimeoutError:
                raise FetchTimeout(f"{url}: no complete response within {self.settings.total_timeout:g}s",
                                   url=url) from None
            except httpx.TimeoutException as exc:
                raise FetchTimeout(f"{url}: {type(exc).__name__}", url=url) from None
            except httpx.UnsupportedProtocol as exc:
                raise InvalidURL(f"{url}: {exc}", url=url) from None
            except httpx.TransportError as exc:
                raise ConnectionFailed(f"{url}: {type(exc).__name__}: {exc or 'connection failed'}",
                                       url=url) from None

    async def _request(self, url: str, budget: _Budget) -> _Hop:
        request = self._client.build_request("GET", url, headers=budget.request_headers)
        response = await self._client.send(request, stream=True)
        try:
            status = response.status_code
            if status in _REDIRECT_STATUSES:
                location = response.headers.get("location")
                if not location:
                    raise HTTPStatusError(f"{url}: HTTP {status} without a Location", url=url, status=status)
                return _Hop(status, response.headers, location=location)
            if status == 304:
                return _Hop(status, response.headers)
            if status >= 300 or status < 200:
                retry_after = _retry_after(response.headers.get("retry-after")) if status in (429, 503) else None
                raise HTTPStatusError(f"{url}: HTTP {status} {response.reason_phrase}".rstrip(), url=url,
                                      status=status, retry_after=retry_after)
            media_type = _media_type(response.headers.get("content-type"))
            if budget.accept is not None and media_type is not None and not _acceptable(media_type, budget.accept):
                raise BadContentType(f"{url}: content type {media_type} is not one of "
                                     f"{', '.join(sorted(budget.accept))}", url=url)
            content = await _read_capped(response, budget.max_bytes, url, truncate=budget.truncate)
            return _Hop(status, response.headers, content=content, charset=response.charset_encoding)
        finally:
            await response.aclose()

    def _gate(self, url: str) -> _HostGate:
        host = (urlsplit(url).hostname or "").lower()
        gate = self._gates.get(host)
        if gate is None:
            if len(self._gates) > 1024:  # articles link to many hosts; forget the quiet ones
                self._gates = {name: kept for name, kept in self._gates.items() if not kept.idle}
            gate = self._gates[host] = _HostGate(self.settings.per_host_concurrency, self.settings.per_host_delay)
        return gate

    # -- robots.txt --------------------------------------------------------------------------------

    async def _check_robots(self, url: str) -> None:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        robots = await self._robots_for(origin)
        if robots.parser is None:
            unavailable = RobotsDisallowed(f"{url}: {origin}/robots.txt is unavailable ({robots.failure}), "
                                           "so nothing on the site is fetched for now", url=url)
            unavailable.retryable = True
            raise unavailable
        if not robots.parser.can_fetch(self.settings.user_agent, url):
            raise RobotsDisallowed(f"{url}: disallowed by {origin}/robots.txt", url=url)

    async def _robots_for(self, origin: str) -> _Robots:
        cached = self._robots.get(origin)
        if cached and cached.expires > time.monotonic():
            return cached
        lock = self._robots_locks.setdefault(origin, asyncio.Lock())
        async with lock:  # one fetch of robots.txt per origin however many requests wait for it
            cached = self._robots.get(origin)
            if cached and cached.expires > time.monotonic():
                return cached
            robots = await self._fetch_robots(origin)
            self._robots[origin] = robots
            return robots

    async def _fetch_robots(self, origin: str) -> _Robots:
        robots_url = origin + "/robots.txt"
        budget = _Budget(attempts=1, max_bytes=_ROBOTS_MAX_BYTES, accept=None, truncate=True)
        parser = RobotFileParser(robots_url)
        now = time.monotonic()
        try:
            _, hop = await self._follow(robots_url, budget, check_robots=False)
        except HTTPStatusError as exc:
            if exc.status < 500:
                # RFC 9309: a robots.txt that is not there (4xx) allows everything.
                parser.parse([])
                return _Robots(parser, now + self.settings.robots_ttl)
            return _Robots(None, now + self.settings.robots_error_ttl, f"HTTP {exc.status}")
        except (ConnectionFailed, FetchTimeout, BlockedAddress):
            raise  # the site itself is unreachable or refused: say so, and ask again next time
        except FetchError as exc:
            # RFC 9309: a robots.txt that cannot be read means complete disallow until it can be.
            return _Robots(None, now + self.settings.robots_error_ttl, exc.reason)
        # Past the cap the rest is ignored, as RFC 9309 allows.
        parser.parse(hop.content.decode("utf-8", "replace").splitlines())
        delay = parser.crawl_delay(self.settings.user_agent)
        if delay:
            gate = self._gate(origin)
            gate.interval = max(self.settings.per_host_delay, min(float(delay), self.settings.max_crawl_delay))
            log.debug("%s asks for %.1fs between requests", origin, gate.interval)
        return _Robots(parser, now + self.settings.robots_ttl)


# -- helpers ---------------------------------------------------------------------------------------

def _checked_url(url: str) -> SplitResult:
    try:
        parsed = urlsplit(url)
    except ValueError as exc:
        raise InvalidURL(f"{url!r} is not a URL: {exc}", url=url) from None
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise InvalidURL(f"{url!r} is not an absolute http(s) URL", url=url)
    try:
        parsed.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        raise InvalidURL(f"{url!r} has a bad port: {exc}", url=url) from None
    return parsed


def _port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def _media_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


def _acceptable(media_type: str, accept: Collection[str]) -> bool:
    if media_type in accept:
        return True
    # application/rss+xml, application/vnd.x+xml...: XML is XML when XML is wanted.
    return media_type.endswith("+xml") and bool(XML_TYPES & set(accept))


def _accept_header(accept: Collection[str] | None) -> str:
    if not accept:
        return "*/*"
    return ", ".join([*sorted(accept), "*/*;q=0.1"])


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


async def _read_capped(response: httpx.Response, max_bytes: int, url: str, *, truncate: bool = False) -> bytes:
    declared = response.headers.get("content-length", "")
    if not truncate and declared.isdigit() and int(declared) > max_bytes:
        raise TooLarge(f"{url}: Content-Length {declared} is over the {max_bytes}-byte cap", url=url)
    body = bytearray()
    # Decoded bytes are counted, so a small gzip bomb is stopped as early as a large body.
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > max_bytes:
            if truncate:
                return bytes(body[:max_bytes])
            raise TooLarge(f"{url}: body is over the {max_bytes}-byte cap", url=url)
    return bytes(body)
