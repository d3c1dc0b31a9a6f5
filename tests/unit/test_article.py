"""From a raw document to its clean article: the title, date and author its feed entry gave win."""

from __future__ import annotations

from typing import Any

from services.common.schemas import validate
from services.ingest.article import build_article, clean_document, known_metadata
from services.ingest.files import RAW_SCHEMA
from tests.unit.test_cleaning import PARAGRAPHS, TITLE
from tests.unit.test_html_extraction import FEED, METADATA, news_page


def raw_page(**fields: Any) -> dict[str, Any]:
    """A fetched page as the poller publishes it (its page metadata: METADATA)."""
    document = {"schema_version": 1, "doc_id": "d1", "source": "wahat", "url": "https://wahat.example/news/1",
                "received_at": "2026-11-11T07:00:00Z", "content_type": "text/html",
                "content": news_page(head=METADATA), **fields}
    validate(RAW_SCHEMA, document)
    return document


def test_the_feed_entry_wins() -> None:
    document = raw_page(title=FEED.title, published_at=FEED.published_at, author=FEED.author)
    article = build_article(document, clean_document(document))
    assert (article["title"], article["published_at"], article["author"]) == (
        FEED.title, FEED.published_at, FEED.author)
    assert article["text"] == "\n".join(PARAGRAPHS)


def test_without_a_title_and_a_date_the_page_is_searched_as_before() -> None:
    for fields in ({}, {"title": FEED.title}, {"published_at": FEED.published_at},
                   {"title": "  ", "published_at": FEED.published_at, "author": FEED.author}):
        document = raw_page(**fields)
        assert known_metadata(document) is None, fields
        article = build_article(document, clean_document(document))
        assert (article["title"], article["author"]) == (TITLE, "سارة الأحمد"), fields
