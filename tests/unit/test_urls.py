"""Canonical URLs: one key per article, however it is linked."""

from __future__ import annotations

import pytest

from services.ingest.urls import canonical_url

ARTICLE = "https://www.example.com/news/123"


@pytest.mark.parametrize("variant", [
    "HTTPS://WWW.Example.COM/news/123",
    "https://www.example.com:443/news/123",
    "https://www.example.com/news/123#comments",
    "https://www.example.com/news/123/",
    "https://www.example.com/news/123?utm_source=twitter&utm_medium=social&utm_campaign=x",
    "https://www.example.com/news/123?fbclid=IwAR0abc&gclid=1&mc_cid=2&mc_eid=3&igshid=4",
    "https://www.example.com/news/123?ref=home&ref_src=twsrc&spm=a1&_ga=2.1&yclid=5&ocid=6&cmpid=7",
    "https://www.example.com/news/123?at_medium=RSS&at_campaign=KARANGA",
    "https://www.example.com/news/123/amp",
    "https://www.example.com/news/123/amp/",
    "https://www.example.com/news/123?amp=1",
    "https://www.example.com/news/123?amp",
    "https://www.example.com/news/123?outputType=amp",
    "https://www.example.com/amp/news/123",
    "https://www.example.com/news/123/index.html",
    "  https://www.example.com/news/123\n",
])
def test_variants_of_one_article_share_its_canonical_url(variant: str) -> None:
    assert canonical_url(variant) == ARTICLE


def test_encoded_and_raw_arabic_slugs_compare_equal() -> None:
    raw = "https://www.3alyoum.com/news/a/رجل-يمنع-إنقاذ-ابنته/"
    encoded = ("https://www.3alyoum.com/news/a/%d8%b1%d8%ac%d9%84-%D9%8A%D9%85%D9%86%D8%B9-"
               "%D8%A5%D9%86%D9%82%D8%A7%D8%B0-%D8%A7%D8%A8%D9%86%D8%AA%D9%87")
    assert canonical_url(raw) == canonical_url(encoded)
    assert canonical_url(raw).isascii()
    assert canonical_url("https://example.com/?q=سوريا") == canonical_url("https://example.com/?q=%D8%B3%D9%88%D8%B1%D9%8A%D8%A7")


def test_query_parameters_are_sorted_and_article_ids_kept() -> None:
    assert canonical_url("http://www.spa.gov.sa/details.php?lang=ar&id=1386900&utm_source=rss") == \
        "http://www.spa.gov.sa/details.php?id=1386900&lang=ar"
    # A query that names the article is never dropped, nor is its index.php router.
    assert canonical_url("http://x.com/index.php?id=3") == "http://x.com/index.php?id=3"
    assert canonical_url("http://x.com/news?id=3") != canonical_url("http://x.com/news?id=4")


def test_only_default_ports_are_dropped() -> None:
    assert canonical_url("http://example.com:80/a") == "http://example.com/a"
    assert canonical_url("http://example.com:8080/a") == "http://example.com:8080/a"
    assert canonical_url("https://example.com:80/a") == "https://example.com:80/a"


def test_what_may_name_another_page_is_kept() -> None:
    assert canonical_url("https://example.com/a") != canonical_url("https://www.example.com/a")
    assert canonical_url("https://example.com/a") != canonical_url("http://example.com/a")
    assert canonical_url("https://example.com/amplifier") == "https://example.com/amplifier"
    assert canonical_url("https://example.com/a?page=2") != canonical_url("https://example.com/a")


def test_non_http_urls_come_back_stripped() -> None:
    assert canonical_url(" /relative/path ") == "/relative/path"
    assert canonical_url("mailto:a@b.c") == "mailto:a@b.c"
    assert canonical_url("") == ""


def test_idempotent() -> None:
    for url in ["https://x.com/a/amp?utm_source=1&b=%d8%b1&a=2#f", "http://www.3alyoum.com/news/a/رجل/"]:
        assert canonical_url(canonical_url(url)) == canonical_url(url)
