"""The main text and metadata of a news page, through trafilatura.

trafilatura finds the article block and the page metadata; this module only chooses its
options (precision over recall, no comments, no tables), runs trafilatura's fast path first
and its full cascade only when that could change the result, and patches two things it does not
do for Arabic pages: a title that still carries the site's name, and a date written with
Arabic month names, which htmldate cannot read. The text it returns is still raw: the line
classifier in :mod:`services.ingest.cleaning` goes over it, because trafilatura sometimes
keeps a share row, a related-articles list or a comment policy.

A caller that already knows the title and the publication date (a feed entry gives both) passes
them as :class:`KnownMetadata`: trafilatura's metadata search, half the extraction time on a
real page, is then skipped, and only the page's meta tags and JSON-LD are read, for the author
and the site name.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import trafilatura
from lxml.html import HtmlElement
from trafilatura.external import SANITIZED_XPATH  # the cascade's own test, so the two agree
from trafilatura.metadata import examine_meta, extract_meta_json
from trafilatura.settings import Document
from trafilatura.utils import load_html

from .lines import fold, is_dateline, parse_date

__all__ = ["ExtractedPage", "ExtractionError", "KnownMetadata", "extract_page", "strip_site_name"]


class ExtractionError(ValueError):
    """The page has no main text to extract; the message says why."""


@dataclass(frozen=True, slots=True)
class ExtractedPage:
    text: str  # the main text, one block (paragraph, heading, list item) per line, not yet cleaned
    title: str | None  # the headline, without a " - Site name" suffix
    published_at: str | None  # ISO 8601
    author: str | None
    language: str | None  # as the page declares it (<html lang>, og:locale), primary subtag
    sitename: str | None


@dataclass(frozen=True, slots=True)
class KnownMetadata:
    """What the caller knows of a page before reading it (a feed entry's title and date, and its
    author when it names one). These win over what the page says."""

    title: str
    published_at: str  # ISO 8601
    author: str | None = None


# Without extensive search htmldate reads only metadata and markup made for dates; with it, it
# falls back on the copyright year and returns 1 January of it, a date no article has. The
# page's own dateline is read below instead.
_DATE_SEARCH = {"extensive_search": False, "original_date": True, "outputformat": "%Y-%m-%dT%H:%M:%S%z"}
_DATELINE_MAX_CHARS = 120  # a dateline is one short text node: "الخميس، 14 آذار 2019، آخر تحديث 09:15"


_TRAFILATURA_OPTIONS = {
    "favor_precision": True,
    "include_comments": False,
    "include_tables": False,
    "include_images": False,
    "include_links": False,
    "date_extraction_params": _DATE_SEARCH,
}
# trafilatura's MIN_EXTRACTED_SIZE: below it, its full cascade tries justext.
_SHORT_TEXT_CHARS = 250
_SKIPPED_TEXT = frozenset({"script", "style", "noscript", "template"})


def extract_page(
    html: str | bytes, *, url: str | None = None, known: KnownMetadata | None = None
) -> ExtractedPage:
    """Main text and metadata of one HTML page; raises :class:`ExtractionError` when there is none.

    With ``known``, trafilatura looks for the main text only; the text comes out the same."""
    tree = load_html(html)
    if tree is None and (page := _as_page(html)) is not None:
        tree = load_html(page)
    if tree is None:
        raise ExtractionError("not an HTML document (the parser found no tree)")
    # Its metadata search (an XPath hunt for the author, htmldate, categories and tags) costs as
    # much as the text on a real page; it is wasted on a title and a date the caller has.
    search_metadata = known is None
    # trafilatura works on a copy of the tree, so one parse serves both passes and the patches below.
    document = trafilatura.bare_extraction(
        tree, url=url, with_metadata=search_metadata, fast=True, **_TRAFILATURA_OPTIONS
    )
    if document is None:
        document = trafilatura.bare_extraction(
            tree, url=url, with_metadata=search_metadata, **_TRAFILATURA_OPTIONS
        )
    elif _fallback_could_win(document, _visible_chars(tree)):
        full = trafilatura.bare_extraction(tree, url=url, **_TRAFILATURA_OPTIONS)  # with_metadata=False
        if full is not None:  # its text; the metadata stays the fast pass's
            document.text, document.body = full.text, full.body
    if document is None or not (document.text or "").strip():
        raise ExtractionError("trafilatura found no main text in the page")
    if known is not None:
        return _with_known_metadata(document.text, tree, known)
    hostname = document.hostname or (urlsplit(url).hostname if url else None)
    return ExtractedPage(
        text=document.text,
        title=strip_site_name(document.title, (document.sitename, hostname)) if document.title else None,
        published_at=_published_time(tree) or document.date or _dateline_date(tree),
        author=document.author or None,
        language=_declared_language(tree),
        sitename=document.sitename or None,
    )


def _with_known_metadata(text: str, tree: HtmlElement, known: KnownMetadata) -> ExtractedPage:
    """The page's text with the caller's title and date; the author, when the caller has none, and
    the site name from the first, cheap steps of trafilatura's metadata search (meta tags, JSON-LD),
    which take well under a millisecond."""
    # The same steps, in the same order, as extract_metadata's start, so that both ways read the
    # same author from the same page unless only its XPath search in the body would find one.
    meta = examine_meta(tree)
    if meta.author and " " not in meta.author:
        meta.author = None
    with contextlib.suppress(Exception):  # as extract_metadata does: its JSON-LD parsing has bugs
        meta = extract_meta_json(tree, meta)
    return ExtractedPage(
        text=text,
        title=known.title,
        published_at=known.published_at,
        author=known.author or meta.author or None,
        language=_declared_language(tree),
        sitename=meta.sitename or None,
    )


def _fallback_could_win(document: Document, page_chars: int) -> bool:
    """Could trafilatura's full cascade (readability, then justext) replace what its fast path found?

    The cascade takes readability's text only when the own text is empty, has no paragraph, or is
    less than half as long as readability's, and readability's text is part of the page's text; it
    tries justext on texts under 250 characters or holding elements it calls unclean. When none
    of that can happen the cascade keeps the fast path's text, which took a third less time to
    find: the cascade runs readability on every page just to compare. (One difference remains: a
    fast pass whose main extraction was short also recovers "teaser" blocks.)
    """
    text, body = document.text or "", document.body
    return (
        len(text) < _SHORT_TEXT_CHARS
        or 2 * len(text) < page_chars
        or body is None
        or not body.xpath(".//p//text()")
        or bool(body.xpath(SANITIZED_XPATH))
    )


def _visible_chars(tree: HtmlElement) -> int:
    """Characters of text on the page outside scripts and styles: an upper bound on any extraction.
    (trafilatura's html2txt measures the same, at ten times the cost of this walk.)"""
    body = tree.find("body")
    count = 0
    for element in (body if body is not None else tree).iter():
        if isinstance(element.tag, str) and element.tag not in _SKIPPED_TEXT and element.text:
            count += len(element.text.strip())
        if element.tail:
            count += len(element.tail.strip())
    return count


_TAG = re.compile(r"<[a-zA-Z][^>]*>")
_TAG_BYTES = re.compile(rb"<[a-zA-Z][^>]*>")
_TAG_PROBE = 4096


def _as_page(html: str | bytes) -> str | bytes | None:
    """A fragment (a feed's content:encoded, "<p>…</p><p>…</p>") fails trafilatura's check that
    it was given a page; wrapped in one, it passes. None when there is no markup at all."""
    if isinstance(html, bytes):
        return b"<html><body>" + html + b"</body></html>" if _TAG_BYTES.search(html[:_TAG_PROBE]) else None
    return f"<html><body>{html}</body></html>" if _TAG.search(html[:_TAG_PROBE]) else None


# "Title - Site", "Site | Title", "Title « Site": separators with spaces around them.
_TITLE_SEPARATOR = re.compile(r"\s+[|\-–—:»«·•]\s+")
_DOMAIN = re.compile(r"\.[a-z]{2,6}$", re.IGNORECASE)
_NOT_ALNUM = re.compile(r"[\W_]+")
_HOST_NOISE = frozenset({"www", "com", "net", "org", "co", "gov", "edu", "info", "news"})


def strip_site_name(title: str, site_names: tuple[str | None, ...]) -> str:
    """Drop the site's name from either end of a page title, when one of ``site_names``
    (og:site_name, the host name) or a domain stands there."""
    names: set[str] = set()
    for name in filter(None, site_names):
        names.add(_compact(name))
        names.update(
            label for label in name.lower().split(".") if len(label) > 2 and label not in _HOST_NOISE
        )

    def names_site(part: str) -> bool:
        compact = _compact(part)
        if not compact:
            return False
        if _DOMAIN.search(part.strip()):
            return True
        return any(
            compact == n
            or (len(n) >= 4 and n in compact)  # "CNNArabic.com" holds "cnnarabic"
            or (compact in n and len(compact) >= 0.7 * len(n))  # "CNN Arabic" for "CNN Arabic TV"
            for n in names
        )

    separators = list(_TITLE_SEPARATOR.finditer(title))
    if not separators:
        return title
    last, first = separators[-1], separators[0]
    if names_site(title[last.end() :]) and title[: last.start()].strip():
        return title[: last.start()].strip()
    if names_site(title[: first.start()]) and title[first.end() :].strip():
        return title[first.end() :].strip()
    return title


def _compact(text: str) -> str:
    return _NOT_ALNUM.sub("", fold(text))


# Metadata that carries a full publication time; htmldate keeps only its day.
_PUBLISHED_TIME_XPATH = (
    '//meta[@property="article:published_time" or @name="article:published_time" '
    'or @itemprop="datePublished" or @name="pubdate" or @name="publish-date"]/@content'
)


def _published_time(tree: HtmlElement) -> str | None:
    for value in tree.xpath(_PUBLISHED_TIME_XPATH):
        if isinstance(value, str) and "T" in value:
            return value.strip()
    return None


def _dateline_date(tree: HtmlElement) -> str | None:
    """The first text node of the page that is nothing but a date ("14 آذار/مارس 2019، آخر تحديث")."""
    body = tree.find("body")
    for node_text in (body if body is not None else tree).itertext():
        text = node_text.strip()
        if not 6 <= len(text) <= _DATELINE_MAX_CHARS or not any(ch.isdigit() for ch in text):
            continue  # cheap test first: most text nodes are long or have no digit
        if is_dateline(text) and (date := parse_date(text)):
            return date
    return None


_LANGUAGE_TAG = re.compile(r"^([a-z]{2,3})(?:[-_].*)?$", re.IGNORECASE)


def _declared_language(tree: HtmlElement) -> str | None:
    declared = tree.get("lang") or tree.get("{http://www.w3.org/XML/1998/namespace}lang")
    if not declared:
        for meta in tree.iter("meta"):
            # attribute values of http-equiv are case-insensitive: Content-Language
            if (
                meta.get("property") == "og:locale"
                or (meta.get("http-equiv") or "").lower() == "content-language"
            ):
                declared = meta.get("content")
                break
    match = _LANGUAGE_TAG.match(declared.strip()) if declared else None
    return match.group(1).lower() if match else None
