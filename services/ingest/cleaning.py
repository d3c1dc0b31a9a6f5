"""The cleaning core of the ingest stage: from a copied or fetched news page to its article.

A document is cut into lines, each line is judged on its own (:mod:`services.ingest.lines`),
and then a few passes over the whole document decide what only the neighbours can tell:

* a "related articles" header opens a list of other stories, which runs to the end of the
  page when no more article text follows it;
* the headline is the title-shaped line printed twice, else the first one above the body,
  else one below it; its copies in the body go, and so does whatever stands above it;
* below the last paragraph, the first piece of page chrome starts the footer, and the
  headline-shaped lines (teasers, slogans) above it go with it; so do comment policies or
  legal notices at the very end;
* lines the caller knows to recur on every page of the source (``is_known_chrome``) go.

Everything here is pure: no I/O, no Redis, no network. The text keeps the paragraphs in
their order, one per line, in display form (:func:`services.common.arabic.normalize_display`),
and every character offset computed downstream refers to it.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from services.common.arabic import arabic_ratio, normalize_display, normalize_for_matching

from .html import ExtractedPage, ExtractionError, KnownMetadata, extract_page
from .lines import Chrome, LineInfo, LineKind, classify_line, headline_key, is_notice, parse_date

__all__ = [
    "ChromeOracle",
    "CleanedDocument",
    "CleaningError",
    "LineDecision",
    "clean_html",
    "clean_text",
    "explain_text",
    "line_fingerprint",
]

# Answers "does this line recur across the source's pages?", given a display-normalized line.
ChromeOracle = Callable[[str], bool]


class CleaningError(ValueError):
    """Nothing usable in the document; the message says why (it goes to the dead-letter topic)."""


@dataclass(frozen=True)
class CleanedDocument:
    title: str  # headline, display-normalized; "" when the document has none
    text: str  # body paragraphs in order, one per line, display-normalized
    lead: str  # first body paragraph
    published_at: str | None  # ISO 8601 when the page states it
    author: str | None
    language: str | None  # "ar" when the text is mostly Arabic, else what the page declares, if anything
    dropped_lines: int  # lines removed as boilerplate (the headline lifted out as title not counted)


@dataclass(frozen=True, slots=True)
class LineDecision:
    """What became of one line, for debugging a source: ``dropped`` is None for kept lines."""

    text: str
    kind: LineKind
    dropped: str | None


# A paragraph this long shows that the article goes on; teasers and appeals are shorter.
SUBSTANTIAL_WORDS = 12
# An in-article "اقرأ أيضاً" block lists a few stories, then the article resumes.
_RELATED_BLOCK_MAX_LINES = 12
# A site's header (menu, breadcrumbs, section, date) is a few lines; more above the headline is article.
_HEADER_MAX_LINES = 6
# Below this, a document of headline-shaped lines only is not an article.
_MIN_WORDS_WITHOUT_PARAGRAPH = 30
# Share of U+FFFD replacement characters beyond which the text was decoded with the wrong charset.
_MAX_REPLACEMENT_SHARE = 0.02
ARABIC_MIN_RATIO = 0.5
_LANGUAGE_SAMPLE_CHARS = 1000  # the first paragraphs tell the language as well as the whole text

_HEADLINE = "headline"  # not boilerplate: lifted out of the body as the title
_KNOWN_CHROME = "recurs across the source"


def clean_text(
    raw: str,
    *,
    title_hint: str | None = None,
    is_known_chrome: ChromeOracle | None = None,
) -> CleanedDocument:
    """Clean a plain-text page (copied from a browser, a feed's content, an extractor's output).

    ``title_hint`` (a feed's title, say) is taken as the title and its copies are removed from
    the body; without it the headline is found in the text. Raises :class:`CleaningError`.
    """
    lines = _split(raw)
    dropped, title = _decide(lines, title_hint, is_known_chrome)
    return _document(lines, dropped, title)


def clean_html(
    html: str | bytes,
    *,
    url: str | None = None,
    known: KnownMetadata | None = None,
    is_known_chrome: ChromeOracle | None = None,
) -> CleanedDocument:
    """Clean an HTML page: trafilatura's main text and metadata, then the same line passes as
    :func:`clean_text`. ``known`` (a feed entry's title and date) saves the metadata search and
    wins over the page's; its title is the hint the headline is found by. Raises :class:`CleaningError`."""
    return clean_page(extract(html, url=url, known=known), is_known_chrome=is_known_chrome)


def extract(
    html: str | bytes, *, url: str | None = None, known: KnownMetadata | None = None
) -> ExtractedPage:
    """The page's main text and metadata (the expensive half of :func:`clean_html`)."""
    if not html or not html.strip():
        raise CleaningError("empty document")
    try:
        return extract_page(html, url=url, known=known)
    except ExtractionError as exc:
        raise CleaningError(str(exc)) from None


def clean_page(page: ExtractedPage, *, is_known_chrome: ChromeOracle | None = None) -> CleanedDocument:
    """The line passes over an extracted page (callers that learn chrome look at its lines first)."""
    lines = _split(page.text)
    dropped, title = _decide(lines, page.title, is_known_chrome)
    document = _document(lines, dropped, title)
    return CleanedDocument(
        title=document.title,
        text=document.text,
        lead=document.lead,
        published_at=page.published_at or document.published_at,
        author=normalize_display(page.author).strip() if page.author else None,
        language=document.language or page.language,
        dropped_lines=document.dropped_lines,
    )


def explain_text(
    raw: str,
    *,
    title_hint: str | None = None,
    is_known_chrome: ChromeOracle | None = None,
) -> list[LineDecision]:
    """Every non-empty line of ``raw`` with what :func:`clean_text` makes of it."""
    lines = _split(raw)
    dropped, _ = _decide(lines, title_hint, is_known_chrome)
    return [LineDecision(line.text, line.kind, why) for line, why in zip(lines, dropped, strict=True)]


_DIGITS = re.compile(r"\d+")
_NON_WORD = re.compile(r"[\W_]+")


def line_fingerprint(line: str) -> str:
    """A stable key for a line, so that a source's recurring lines (its chrome) can be counted.

    Spelling variants, diacritics, punctuation and numbers do not change it: "35 تعليقاً" and
    "36 تعليقا" are the same counter.
    """
    key = _DIGITS.sub("0", normalize_for_matching(line).lower())
    key = _NON_WORD.sub(" ", key).strip()
    return hashlib.blake2b(key.encode("utf-8"), digest_size=8).hexdigest()


# --- reading ---------------------------------------------------------------------------------


def _split(raw: str) -> list[LineInfo]:
    if not raw or not raw.strip():
        raise CleaningError("empty document")
    if "\x00" in raw:
        raise CleaningError("text contains NUL bytes: binary content or a wrong charset")
    if raw.count("\ufffd") > _MAX_REPLACEMENT_SHARE * len(raw):
        raise CleaningError("text is full of U+FFFD replacement characters: decoded with the wrong charset")
    return [classify_line(line) for line in normalize_display(raw).split("\n") if line]


# --- deciding --------------------------------------------------------------------------------


def _decide(
    lines: list[LineInfo], title_hint: str | None, is_known_chrome: ChromeOracle | None
) -> tuple[list[str | None], str]:
    """Why each line is left out of the article (None: kept), and the title."""
    dropped: list[str | None] = [line.reason for line in lines]
    if is_known_chrome is not None:
        for i, line in enumerate(lines):
            if dropped[i] is None and is_known_chrome(line.text):
                dropped[i] = _KNOWN_CHROME
    # One line in display form, however the feed or the page metadata wrote it.
    hint = " ".join(normalize_display(title_hint).split()) if title_hint else None
    _drop_related_blocks(lines, dropped, keep_key=headline_key(hint) if hint else None)
    title, title_at = _find_title(lines, dropped, hint)
    _drop_headline(lines, dropped, title, title_at)
    _drop_repeats(lines, dropped)
    _drop_header(lines, dropped, title_at)
    _drop_footer(lines, dropped)
    return dropped, title


def _substantial(line: LineInfo) -> bool:
    return line.kind is LineKind.PARAGRAPH and line.words >= SUBSTANTIAL_WORDS


def _kept(dropped: list[str | None]) -> list[int]:
    return [i for i, why in enumerate(dropped) if why is None]


def _drop_related_blocks(lines: list[LineInfo], dropped: list[str | None], keep_key: str | None) -> None:
    for i, line in enumerate(lines):
        if line.kind is not LineKind.RELATED or dropped[i] is not None:
            continue
        dropped[i] = "related-articles header"
        rest = range(i + 1, len(lines))
        if not any(dropped[j] is None and _substantial(lines[j]) for j in rest):
            # Nothing of the article below: the list, and the appeals under it, end the page.
            for j in rest:
                dropped[j] = dropped[j] or "related articles"
            return
        for j in rest[:_RELATED_BLOCK_MAX_LINES]:
            if (lines[j].kind is LineKind.PARAGRAPH and not lines[j].list_item) or lines[j].key == keep_key:
                break
            dropped[j] = dropped[j] or "related articles"


def _find_title(lines: list[LineInfo], dropped: list[str | None], hint: str | None) -> tuple[str, int | None]:
    """The headline and the line it stands on (None when it is not in the text)."""
    kept = _kept(dropped)
    body = [i for i in kept if _substantial(lines[i])]
    body_start, body_end = (body[0], body[-1]) if body else (len(lines), -1)
    if hint:
        key = headline_key(hint)
        for i in kept:
            if lines[i].kind is not LineKind.PARAGRAPH and lines[i].key == key:
                return hint, i
        # The page's own headline may be worded a little differently from the feed's title.
        for i in kept:
            if i < body_start and lines[i].title_shaped and _similar(lines[i].key, key):
                return hint, i
        return hint, None
    candidates = [i for i in kept if lines[i].title_shaped]
    keys = {i: lines[i].key for i in candidates}
    copies = Counter(keys.values())
    above = [i for i in candidates if i < body_start]
    for group in (
        [i for i in candidates if copies[keys[i]] > 1],  # sites print the headline twice
        [i for i in above if lines[i].words >= 5] or above,  # a short line above it is a byline
        [i for i in candidates if i > body_end],  # some copies put it below the article
    ):
        if group:
            return lines[group[0]].text, group[0]
    return "", None


def _similar(key: str, other: str, threshold: float = 0.6) -> bool:
    a, b = set(key.split()), set(other.split())
    return bool(a and b) and len(a & b) / len(a | b) >= threshold


def _drop_headline(
    lines: list[LineInfo], dropped: list[str | None], title: str, title_at: int | None
) -> None:
    if title_at is not None:
        dropped[title_at] = _HEADLINE
    if not title:
        return
    key = headline_key(title)
    for i in _kept(dropped):
        if lines[i].kind is not LineKind.PARAGRAPH and lines[i].key == key:
            dropped[i] = "repeated headline"
        elif _labels_the_headline(lines[i].text, key):
            dropped[i] = "link to the article"


# "رابط الخبر بصحيفة الوئام: <headline>", "اقرأ المزيد - <headline>": a short label, a separator and
# the headline again. Every article of the outlet carries one; left in, the label's words make all
# of them look alike.
_LABELLED_LINE = re.compile(r"^([^:|–—»\-]{2,60})[:|–—»\-]\s*(.+)$")
_LABEL_MAX_WORDS = 6


def _labels_the_headline(text: str, key: str) -> bool:
    match = _LABELLED_LINE.match(text)
    return bool(match) and len(match.group(1).split()) <= _LABEL_MAX_WORDS and \
        _similar(headline_key(match.group(2)), key, threshold=0.8)


def _drop_repeats(lines: list[LineInfo], dropped: list[str | None]) -> None:
    """A paragraph pasted twice. Short lines may repeat on purpose: a refrain, "المقادير:"."""
    seen: set[str] = set()
    for i in _kept(dropped):
        if lines[i].words < SUBSTANTIAL_WORDS:
            continue
        if lines[i].text in seen:
            dropped[i] = "repeated paragraph"
        seen.add(lines[i].text)


def _drop_header(lines: list[LineInfo], dropped: list[str | None], title_at: int | None) -> None:
    """Above a headline that stands above the article: menus, breadcrumbs, section labels."""
    if title_at is None:
        return
    above = [i for i in range(title_at) if dropped[i] is None]
    if len(above) > _HEADER_MAX_LINES or any(_substantial(lines[i]) for i in above):
        return  # the article starts above the headline (or it is a line of the article that repeats the title)
    for i in above:
        dropped[i] = "page header"


def _starts_footer(line: LineInfo, dropped: str | None) -> bool:
    if line.kind is LineKind.RELATED or dropped == _KNOWN_CHROME:
        return True
    return line.reason is not None and not line.reason.also_inside_articles


def _drop_footer(lines: list[LineInfo], dropped: list[str | None]) -> None:
    """Notices at the very end; below the article, everything from the first piece of chrome
    on, and the headline-shaped lines (teasers, slogans) standing between the two."""
    for i in reversed(_kept(dropped)):
        if not is_notice(lines[i].text):
            break
        dropped[i] = "comment policy or legal notice"
    kept = _kept(dropped)
    body_end = max((i for i in kept if _substantial(lines[i])), default=-1)
    footer = next((i for i in range(body_end + 1, len(lines)) if _starts_footer(lines[i], dropped[i])), None)
    if footer is None:
        return  # no footer: lines after the last paragraph may be verse, a credit, a signature
    for i in range(body_end + 1, len(lines)):
        if i >= footer or lines[i].kind is not LineKind.PARAGRAPH:
            dropped[i] = dropped[i] or "page footer"


# --- writing ---------------------------------------------------------------------------------


def _document(lines: list[LineInfo], dropped: list[str | None], title: str) -> CleanedDocument:
    kept = [lines[i] for i in _kept(dropped)]
    if not kept:
        raise CleaningError(f"no article text left after removing {len(lines)} lines of page chrome")
    paragraphs = [line for line in kept if line.kind is LineKind.PARAGRAPH]
    if not paragraphs and sum(line.words for line in kept) < _MIN_WORDS_WITHOUT_PARAGRAPH:
        raise CleaningError("no paragraph of article text, only a few headline-like lines")
    text = "\n".join(line.text for line in kept)
    datelines = (line.text for line in lines if line.reason is Chrome.DATELINE)
    return CleanedDocument(
        title=title,
        text=text,
        lead=(paragraphs or kept)[0].text,
        published_at=next(filter(None, map(parse_date, datelines)), None),
        author=None,
        language="ar" if arabic_ratio(text[:_LANGUAGE_SAMPLE_CHARS]) > ARABIC_MIN_RATIO else None,
        dropped_lines=sum(why is not None and why != _HEADLINE for why in dropped),
    )
