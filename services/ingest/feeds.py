"""Feed and news-sitemap parsing: bytes in, the items they announce out.

RSS and Atom go through feedparser, which copes with the many ways real feeds bend the specs.
Sitemaps are plain XML and go through lxml with entity expansion, DTD loading and network access
switched off, so a hostile sitemap can neither expand entities nor make us fetch anything.
"""

from __future__ import annotations

import time
import xml.sax
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import feedparser
from lxml import etree

from services.common.clock import iso, normalize_timestamp

# The sitemap protocol's own limit on an uncompressed sitemap.
MAX_SITEMAP_BYTES = 50 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"


class FeedError(ValueError):
    """The bytes are not a feed or sitemap we can read."""


@dataclass(frozen=True)
class FeedItem:
    id: str  # the GUID, or the link when the feed gives none
    link: str
    title: str | None = None
    published: str | None = None  # ISO 8601, UTC
    author: str | None = None  # the entry's author names, "; " between two
    summary: str | None = None  # HTML as the feed gives it
    content: str | None = None  # HTML as the feed gives it


@dataclass(frozen=True)
class NewsSitemap:
    """A ``<urlset>``'s articles, or a ``<sitemapindex>``'s child sitemaps (one of them is empty)."""

    items: list[FeedItem] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)


# -- RSS and Atom ----------------------------------------------------------------------------------

def parse_feed(content: bytes, url: str) -> list[FeedItem]:
    """The items of an RSS 2.0, RSS 1.0 or Atom feed, in feed order, one per id."""
    parsed = feedparser.parse(content, response_headers={"content-location": url})
    if not parsed.get("version") and not parsed.entries:
        problem = parsed.get("bozo_exception")
        raise FeedError(f"{url}: not an RSS or Atom feed" + (f" ({problem})" if problem else ""))
    items: list[FeedItem] = []
    seen: set[str] = set()
    for entry in parsed.entries:
        item = _feed_item(entry, url)
        if item is not None and item.id not in seen:
            seen.add(item.id)
            items.append(item)
    if not items and isinstance(parsed.get("bozo_exception"), xml.sax.SAXException):
        # Broken XML without a readable item (a feed cut off early) is a failed poll, not an empty
        # feed: an empty answer would let its ETag stand, and the next poll would come back 304.
        raise FeedError(f"{url}: not well-formed XML and no item could be read ({parsed['bozo_exception']})")
    return items


def _feed_item(entry: feedparser.FeedParserDict, feed_url: str) -> FeedItem | None:
    guid = _text(entry.get("id"))
    link = _text(entry.get("link"))
    if not link and guid and _is_web_url(guid):
        link = guid  # RSS guids are permalinks unless isPermaLink="false"
    if not link:
        return None  # nothing to fetch
    link = urljoin(feed_url, link)
    if not _is_web_url(link):
        return None
    content = entry.get("content") or []
    return FeedItem(
        id=guid or link,
        link=link,
        title=_text(entry.get("title")),
        published=_struct_time_iso(entry.get("published_parsed") or entry.get("updated_parsed")),
        author=_authors(entry),
        summary=_text(entry.get("summary")),
        content=_text(content[0].get("value")) if content else None,
    )


def _authors(entry: feedparser.FeedParserDict) -> str | None:
    # feedparser's "author" is the raw element ("sara@x.com (Sara)"); "authors" has the parsed names,
    # and an RSS <author> that is only an e-mail address has none.
    names = (_text(author.get("name")) for author in entry.get("authors") or [])
    return "; ".join(dict.fromkeys(filter(None, names))) or None


def _struct_time_iso(moment: time.struct_time | None) -> str | None:
    # feedparser has already converted the date to UTC.
    if moment is None:
        return None
    try:
        return iso(datetime(*moment[:6], tzinfo=UTC))
    except (TypeError, ValueError):
        return None


# -- news sitemaps ---------------------------------------------------------------------------------

def parse_news_sitemap(content: bytes, url: str) -> NewsSitemap:
    """The articles of a (Google News) sitemap, or the child sitemaps of a sitemap index.

    An article's title and date come from ``news:title`` and ``news:publication_date`` when the
    sitemap has them, otherwise from ``lastmod``. Gzipped sitemaps (``.xml.gz``) are accepted.
    """
    if content.startswith(_GZIP_MAGIC):
        content = _gunzip(content, url)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                             huge_tree=False, remove_comments=True, remove_pis=True)
    try:
        root = etree.fromstring(content, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise FeedError(f"{url}: not XML: {exc}") from None
    if root is None:
        raise FeedError(f"{url}: empty document")
    kind = etree.QName(root).localname
    if kind == "sitemapindex":
        children = (_loc(entry, url) for entry in root.iterfind("{*}sitemap"))
        return NewsSitemap(sitemaps=list(dict.fromkeys(child for child in children if child)))
    if kind != "urlset":
        raise FeedError(f"{url}: a sitemap is a <urlset> or <sitemapindex>, not <{kind}>")
    items: list[FeedItem] = []
    seen: set[str] = set()
    for entry in root.iterfind("{*}url"):
        link = _loc(entry, url)
        if not link or link in seen:
            continue
        seen.add(link)
        news = entry.find(f"{{{_NEWS_NS}}}news")
        title = published = None
        if news is not None:
            title = _text(news.findtext(f"{{{_NEWS_NS}}}title"))
            published = normalize_timestamp(news.findtext(f"{{{_NEWS_NS}}}publication_date"))
        published = published or normalize_timestamp(entry.findtext("{*}lastmod"))
        items.append(FeedItem(id=link, link=link, title=title, published=published))
    return NewsSitemap(items=items)


def _loc(entry: etree._Element, base: str) -> str | None:
    loc = _text(entry.findtext("{*}loc"))
    if not loc:
        return None
    link = urljoin(base, loc)
    return link if _is_web_url(link) else None


def _gunzip(content: bytes, url: str) -> bytes:
    inflater = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
    try:
        data = inflater.decompress(content, MAX_SITEMAP_BYTES + 1)
    except zlib.error as exc:
        raise FeedError(f"{url}: broken gzip: {exc}") from None
    if len(data) > MAX_SITEMAP_BYTES or inflater.unconsumed_tail:
        raise FeedError(f"{url}: sitemap is over {MAX_SITEMAP_BYTES} bytes uncompressed")
    return data


# -- helpers ---------------------------------------------------------------------------------------

def _text(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def _is_web_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
