"""The cleaning core on HTML: trafilatura's extraction, its metadata, and the line passes after it."""

from __future__ import annotations

import re
from collections import Counter

import pytest
import trafilatura
from lxml import html as lxml_html
from trafilatura.utils import load_html

from services.common.arabic import normalize_display
from services.ingest import SAMPLE_FEED
from services.ingest.cleaning import CleaningError, clean_html
from services.ingest.html import _TRAFILATURA_OPTIONS, KnownMetadata, extract_page, strip_site_name
from tests.unit.test_cleaning import PARAGRAPHS, SHARED, TITLE


def news_page(
    *, head: str = "", dateline: str = "", lang: str = "ar", paragraphs: list[str] = PARAGRAPHS
) -> str:
    """A news page with a menu, share and comment rows inside the article, a sidebar and a footer."""
    first, *rest = (f"<p>{p}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html><html lang="{lang}" dir="rtl"><head><meta charset="utf-8">{head}</head><body>
<header><nav><ul><li><a href="/">الرئيسية</a></li><li><a href="/politics">سياسة</a></li>
<li><a href="/economy">اقتصاد</a></li><li><a href="/sport">رياضة</a></li></ul></nav></header>
<main><article><h1>{TITLE}</h1><div class="stamp">{dateline}</div>
{first}
<p>شارك: فيسبوك تويتر واتساب</p>
<p>اقرأ أيضاً: الحكومة تعلن خطة صحية جديدة</p>
{"".join(rest)}
<p>اترك تعليقاً</p>
</article>
<aside><h3>الأكثر قراءة</h3><ul><li><a href="/a">الحكومة تعلن خطة صحية جديدة</a></li>
<li><a href="/b">افتتاح مدرسة في حماة</a></li></ul></aside></main>
<footer><p>جميع الحقوق محفوظة © 2024 موقع المثال</p><a href="/about">من نحن</a> <a href="/contact">اتصل بنا</a></footer>
</body></html>"""


METADATA = f"""<title>{TITLE} | موقع المثال</title>
<meta property="og:title" content="{TITLE} - موقع المثال">
<meta property="og:site_name" content="موقع المثال">
<meta property="article:published_time" content="2024-05-12T09:30:00+03:00">
<meta name="author" content="سارة الأحمد">"""


def test_body_only_without_menu_share_related_or_footer() -> None:
    doc = clean_html(news_page(head=METADATA), url="https://example.com/news/1")
    assert doc.text == "\n".join(PARAGRAPHS)
    assert doc.lead == PARAGRAPHS[0]
    assert doc.dropped_lines >= 3  # share row, read-also link, comment prompt kept by trafilatura


def test_metadata_title_date_author_language() -> None:
    doc = clean_html(news_page(head=METADATA), url="https://example.com/news/1")
    assert doc.title == TITLE
    assert doc.published_at == "2024-05-12T09:30:00+03:00"  # the full time, not just the day
    assert doc.author == "سارة الأحمد"
    assert doc.language == "ar"


def test_html_as_bytes() -> None:
    assert clean_html(news_page(head=METADATA).encode("utf-8")).text == "\n".join(PARAGRAPHS)


def test_html_fragment_from_a_feed() -> None:
    fragment = "".join(f"<p>{p}</p>" for p in PARAGRAPHS) + "<p>شارك: فيسبوك تويتر واتساب</p>"
    assert clean_html(fragment).text == "\n".join(PARAGRAPHS)
    assert clean_html(f"<p>{PARAGRAPHS[0]}</p>".encode()).text == PARAGRAPHS[0]


def test_arabic_dateline_is_read_when_metadata_has_no_date() -> None:
    doc = clean_html(news_page(dateline="الأحد 12 أيار 2024 - 10:30"))
    assert doc.published_at == "2024-05-12"


def test_a_date_inside_the_article_is_not_the_publication_date() -> None:
    paragraphs = [
        *PARAGRAPHS[:2],
        "وكانت الوزارة قد أعلنت عن المشروع في 23 حزيران 2017 ضمن خطة وطنية شاملة للقطاع.",
    ]
    assert clean_html(news_page(paragraphs=paragraphs)).published_at is None


def test_language_of_a_page_that_is_not_arabic() -> None:
    english = [
        "The health ministry opened a new hospital in the city of Homs on Sunday, with two hundred beds.",
        "The minister told reporters that the hospital would receive its first patients next week.",
    ]
    assert clean_html(news_page(lang="en-GB", paragraphs=english)).language == "en"


@pytest.mark.parametrize(
    ("title", "names", "expected"),
    [
        ("عنوان الخبر هنا - CNNArabic.com", ("CNNArabic", "arabic.cnn.com"), "عنوان الخبر هنا"),
        ("موقع المثال | عنوان الخبر هنا", ("موقع المثال", None), "عنوان الخبر هنا"),
        ("عنوان الخبر هنا - اليوم السابع", ("اليوم السابع", "www.youm7.com"), "عنوان الخبر هنا"),
        ("عنوان الخبر هنا « الجزيرة نت", ("الجزيرة نت", "www.aljazeera.net"), "عنوان الخبر هنا"),
        (
            "الأهلي - الزمالك: موعد المباراة",
            ("موقع المثال", "example.com"),
            "الأهلي - الزمالك: موعد المباراة",
        ),
        ("سوريا - عودة اللاجئين من لبنان", ("أخبار سوريا اليوم", None), "سوريا - عودة اللاجئين من لبنان"),
    ],
)
def test_strip_site_name(title: str, names: tuple[str | None, ...], expected: str) -> None:
    assert strip_site_name(title, names) == expected


@pytest.mark.parametrize(
    "html",
    [
        "",
        "   ",
        "<html><body><nav><a href='/'>الرئيسية</a></nav></body></html>",
        "<html><body><p>35</p><p>ع ع ع</p></body></html>",
    ],
)
def test_no_article_raises_cleaning_error(html: str) -> None:
    with pytest.raises(CleaningError):
        clean_html(html)


# --- trafilatura's fast path, and its full cascade when that could change the text -------------

# What a feed entry says of a page: a headline worded a little differently from the page's, a date
# and an author that the page's own metadata (METADATA) do not give.
FEED = KnownMetadata(
    title=TITLE.replace("بسعة", "يتسع لـ"), published_at="2026-11-11T06:30:00.000Z", author="مراسل الواحة"
)

STORY = (
    "أعلنت وزارة الصحة اليوم افتتاح مستشفى جديد في مدينة الزرقاء بسعة مئتي سرير، وقال الوزير إن "
    "المستشفى سيخدم أكثر من نصف مليون نسمة في المحافظة والمناطق المجاورة لها."
)
CAPTION = (
    "وقال مصدر في الوزارة إن العمل في المستشفى سيبدأ الشهر المقبل بعد استكمال تجهيز الأقسام "
    "وتعيين الكوادر الطبية والتمريضية اللازمة لتشغيله بكامل طاقته."
)


def _full_cascade_text(html: str) -> str | None:
    document = trafilatura.bare_extraction(load_html(html), **_TRAFILATURA_OPTIONS)
    return document.text if document is not None else None


def _fast_text(html: str) -> str:
    document = trafilatura.bare_extraction(load_html(html), fast=True, **_TRAFILATURA_OPTIONS)
    return document.text if document is not None else ""


def _story_in_divs(*, paragraph: str = "") -> str:
    """A story told in <div>/<span> blocks, not <p>, which only readability's pass reads whole."""
    blocks = "".join(f"<div class='para'><span>{STORY}</span></div>" for _ in range(5))
    related = "".join(f"<div><a href='/x{i}'>{STORY[:60]}</a></div>" for i in range(8))
    return f"<html><body><div class='wrap'>{paragraph}{blocks}</div><div class='related'>{related}</div></body></html>"


@pytest.mark.parametrize(
    "html",
    [_story_in_divs(), _story_in_divs(paragraph=f"<p>{CAPTION}</p>")],
    ids=["fast-path-finds-nothing", "fast-path-finds-one-paragraph"],
)
@pytest.mark.parametrize("known", [None, FEED], ids=["page-alone", "feed-metadata"])
def test_full_cascade_runs_when_the_fast_path_falls_short(html: str, known: KnownMetadata | None) -> None:
    full = _full_cascade_text(html)
    assert full and len(full) > 2 * len(_fast_text(html))  # the page needs the cascade
    assert extract_page(html, known=known).text == full


@pytest.mark.parametrize("path", sorted(SAMPLE_FEED.rglob("*.html")), ids=lambda p: p.stem)
def test_sample_pages_get_the_full_cascade_text(path) -> None:
    html = path.read_text(encoding="utf-8")
    assert extract_page(html).text == _full_cascade_text(html)


# --- a feed entry that gives the title and the date: trafilatura's metadata search is skipped ----


def test_the_feed_title_date_and_author_win_over_the_page() -> None:
    doc = clean_html(news_page(head=METADATA), url="https://example.com/news/1", known=FEED)
    assert (doc.title, doc.published_at, doc.author) == (FEED.title, FEED.published_at, FEED.author)
    assert doc.text == "\n".join(PARAGRAPHS)  # the page's own headline, worded differently, still left
    assert doc.language == "ar"


def test_without_a_feed_author_the_meta_tags_and_json_ld_give_it() -> None:
    json_ld = ('<script type="application/ld+json">{"@context": "https://schema.org", '
               '"@type": "NewsArticle", "author": {"@type": "Person", "name": "سارة الأحمد"}}</script>')
    known = KnownMetadata(title=TITLE, published_at=FEED.published_at)
    for head in (METADATA, json_ld):
        assert clean_html(news_page(head=head), known=known).author == "سارة الأحمد"


def test_the_metadata_search_is_not_run() -> None:
    # A byline only trafilatura's XPath search in the body finds (extract_author): found when the
    # page is read alone, not when the feed gave the title and date.
    html = news_page(dateline='<span class="author">سارة الأحمد</span>')
    assert extract_page(html).author == "سارة الأحمد"
    assert extract_page(html, known=KnownMetadata(title=TITLE, published_at=FEED.published_at)).author is None


def test_trafilatura_is_asked_for_the_text_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # The costly steps of trafilatura's metadata search, however it is reached, fail the test.
    for step in ("extract_author", "find_date", "extract_catstags"):
        def ran(*args: object, step: str = step, **kwargs: object) -> None:
            raise AssertionError(f"trafilatura's metadata search ran ({step})")

        monkeypatch.setattr(trafilatura.metadata, step, ran)
    html = news_page(head=METADATA)
    assert extract_page(html, known=FEED).text
    with pytest.raises(AssertionError, match="metadata search ran"):  # the page alone still needs it
        extract_page(html)


def _as_its_feed_gives_it(html: str, url: str | None = None) -> tuple[str, str]:
    """The page cleaned alone, and again with the title, date and author its feed entry would give."""
    alone = clean_html(html, url=url)
    known = KnownMetadata(title=alone.title, published_at=FEED.published_at, author=FEED.author)
    from_feed = clean_html(html, url=url, known=known)
    assert (from_feed.title, from_feed.published_at, from_feed.author) == (
        alone.title, FEED.published_at, FEED.author)
    assert alone.published_at != FEED.published_at and alone.author != FEED.author  # the page says otherwise
    assert extract_page(html, url=url, known=known).text == extract_page(html, url=url).text
    return alone.text, from_feed.text


@pytest.mark.parametrize("path", sorted(SAMPLE_FEED.rglob("*.html")), ids=lambda p: p.stem)
def test_sample_pages_with_feed_metadata_keep_their_text(path) -> None:
    url = f"https://{path.parent.name}.example/{path.stem}"
    alone, from_feed = _as_its_feed_gives_it(path.read_text(encoding="utf-8"), url=url)
    assert from_feed == alone


# --- a real page in ../shared ----------------------------------------------------------------

CNN = SHARED / "corpus" / "html" / "cnn_arabic_article"


def token_f1(predicted: str, gold: str) -> float:
    """Bag-of-tokens F1, as extraction benchmarks score main text."""
    ours, theirs = Counter(re.findall(r"\w+", predicted)), Counter(re.findall(r"\w+", gold))
    overlap = sum((ours & theirs).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(ours.values()), overlap / sum(theirs.values())
    return 2 * precision * recall / (precision + recall)


def test_token_f1_scores_what_it_should() -> None:
    assert token_f1("أ ب ج د", "أ ب ج د") == 1.0
    assert token_f1("أ ب", "ج د") == 0.0
    assert token_f1("أ ب ج د", "أ ب") == pytest.approx(2 / 3)


def _cnn_page() -> tuple[str, str]:
    html, gold = CNN.with_suffix(".html"), CNN.with_suffix(".txt")
    if not (html.is_file() and gold.is_file()):
        pytest.skip(f"../shared not found: no {html.name} / {gold.name} in {CNN.parent}")
    return html.read_text(encoding="utf-8"), gold.read_text(encoding="utf-8")


@pytest.mark.shared
def test_cnn_arabic_body_token_f1() -> None:
    html, gold = _cnn_page()
    doc = clean_html(html)
    # The body is in display form by contract; the expected text is compared in that form too.
    assert token_f1(doc.text, normalize_display(gold)) >= 0.95


@pytest.mark.shared
def test_cnn_arabic_metadata() -> None:
    html, _ = _cnn_page()
    doc = clean_html(html)
    page_title = lxml_html.fromstring(html.encode("utf-8")).findtext(".//title").strip()
    assert doc.title and page_title.startswith(doc.title)
    assert "CNN" not in doc.title  # the " - CNNArabic.com" suffix is gone
    assert doc.published_at == "2013-08-28"  # read from the Arabic dateline: the page has no date metadata
    assert doc.language == "ar"


@pytest.mark.shared
def test_cnn_arabic_fast_path_matches_the_full_cascade() -> None:
    html, _ = _cnn_page()
    assert extract_page(html).text == _full_cascade_text(html)


@pytest.mark.shared
def test_cnn_arabic_with_feed_metadata_keeps_its_text() -> None:
    html, _ = _cnn_page()
    alone, from_feed = _as_its_feed_gives_it(html)
    assert from_feed == alone
