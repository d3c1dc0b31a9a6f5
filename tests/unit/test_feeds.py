import gzip

import pytest

from services.ingest.feeds import FeedError, parse_feed, parse_news_sitemap

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0">
<channel>
  <title>أخبار الواحة</title>
  <link>https://wahat.example/</link>
  <item>
    <title>افتتاح جسر جديد فوق النهر</title>
    <link>https://wahat.example/news/bridge</link>
    <guid isPermaLink="false">wahat-1001</guid>
    <pubDate>Wed, 11 Nov 2026 09:30:00 +0300</pubDate>
    <description>&lt;p&gt;افتتحت البلدية جسرا جديدا.&lt;/p&gt;</description>
  </item>
  <item>
    <title>مهرجان الكتاب يبدأ غدا</title>
    <link>/news/book-fair</link>
    <pubDate>Wed, 11 Nov 2026 07:00:00 GMT</pubDate>
  </item>
  <item>
    <title>بلا رابط</title>
  </item>
  <item>
    <title>نسخة مكررة</title>
    <link>https://wahat.example/news/bridge-copy</link>
    <guid isPermaLink="false">wahat-1001</guid>
  </item>
</channel>
</rss>
""".encode()

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>نشرة الساحل</title>
  <id>urn:sahel:feed</id>
  <updated>2026-11-11T10:00:00Z</updated>
  <entry>
    <title>أمطار غزيرة على الساحل</title>
    <id>urn:sahel:2001</id>
    <link rel="alternate" href="https://sahel.example/a/2001"/>
    <updated>2026-11-11T10:00:00+02:00</updated>
    <content type="html">&lt;p&gt;هطلت أمطار غزيرة.&lt;/p&gt;</content>
  </entry>
</feed>
""".encode()

NEWS_SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
  <url>
    <loc>https://nakheel.example/2026/11/11/port</loc>
    <news:news>
      <news:publication><news:name>Nakheel</news:name><news:language>ar</news:language></news:publication>
      <news:publication_date>2026-11-11T12:15:00+03:00</news:publication_date>
      <news:title>""" + "توسعة الميناء التجاري".encode() + b"""</news:title>
    </news:news>
  </url>
  <url>
    <loc>https://nakheel.example/2026/11/10/market</loc>
    <lastmod>2026-11-10</lastmod>
  </url>
  <url><loc>javascript:alert(1)</loc></url>
</urlset>
"""

SITEMAP_INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>https://nakheel.example/news-1.xml</loc><lastmod>2026-11-11</lastmod></sitemap>
  <sitemap><loc>/news-2.xml</loc></sitemap>
</sitemapindex>
"""


def test_rss_items() -> None:
    items = parse_feed(RSS, "https://wahat.example/rss.xml")
    assert [item.id for item in items] == ["wahat-1001", "https://wahat.example/news/book-fair"]
    bridge, fair = items
    assert bridge.link == "https://wahat.example/news/bridge"
    assert bridge.title == "افتتاح جسر جديد فوق النهر"
    assert bridge.published == "2026-11-11T06:30:00.000Z"
    assert bridge.summary is not None and "جسرا" in bridge.summary
    assert fair.link == "https://wahat.example/news/book-fair"  # resolved against the feed's URL
    assert fair.published == "2026-11-11T07:00:00.000Z"


def test_atom_items() -> None:
    [item] = parse_feed(ATOM, "https://sahel.example/atom.xml")
    assert item.id == "urn:sahel:2001" and item.link == "https://sahel.example/a/2001"
    assert item.published == "2026-11-11T08:00:00.000Z"
    assert item.content is not None and "أمطار" in item.content


def test_not_a_feed() -> None:
    with pytest.raises(FeedError, match="not an RSS or Atom feed"):
        parse_feed(b"<html><body>not found</body></html>", "https://wahat.example/rss.xml")


def test_broken_xml_is_read_as_far_as_it_goes() -> None:
    cut_in_second_item = RSS[:RSS.index(b"/news/book-fair")]
    assert [item.id for item in parse_feed(cut_in_second_item, "https://wahat.example/rss.xml")] == ["wahat-1001"]
    # Cut before any item is complete: a failure, not an empty feed whose ETag could be kept.
    with pytest.raises(FeedError, match="not well-formed"):
        parse_feed(RSS[:RSS.index(b"</title>", RSS.index(b"<item>"))], "https://wahat.example/rss.xml")
    empty = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
    assert parse_feed(empty, "https://wahat.example/rss.xml") == []


def test_news_sitemap() -> None:
    sitemap = parse_news_sitemap(NEWS_SITEMAP, "https://nakheel.example/news-sitemap.xml")
    assert sitemap.sitemaps == []
    port, market = sitemap.items
    assert port.id == port.link == "https://nakheel.example/2026/11/11/port"
    assert port.title == "توسعة الميناء التجاري"
    assert port.published == "2026-11-11T09:15:00.000Z"
    assert market.title is None and market.published == "2026-11-10T00:00:00.000Z"


def test_gzipped_sitemap() -> None:
    sitemap = parse_news_sitemap(gzip.compress(NEWS_SITEMAP), "https://nakheel.example/news.xml.gz")
    assert len(sitemap.items) == 2


def test_sitemap_index_lists_children() -> None:
    sitemap = parse_news_sitemap(SITEMAP_INDEX, "https://nakheel.example/sitemap.xml")
    assert sitemap.items == []
    assert sitemap.sitemaps == ["https://nakheel.example/news-1.xml", "https://nakheel.example/news-2.xml"]


def test_sitemap_entities_are_not_expanded() -> None:
    hostile = b"""<?xml version="1.0"?>
<!DOCTYPE urlset [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY secret SYSTEM "file:///etc/passwd">
]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>https://nakheel.example/&lol2;</loc></url>
  <url><loc>https://nakheel.example/x&secret;</loc></url>
</urlset>
"""
    items = parse_news_sitemap(hostile, "https://nakheel.example/sitemap.xml").items
    # Entity references are left unresolved, so they add nothing to the text.
    assert [item.link for item in items] == ["https://nakheel.example/", "https://nakheel.example/x"]


def test_sitemap_errors() -> None:
    with pytest.raises(FeedError, match="not XML"):
        parse_news_sitemap(b"<urlset><url>", "https://nakheel.example/s.xml")
    with pytest.raises(FeedError, match="<rss>"):
        parse_news_sitemap(RSS, "https://nakheel.example/s.xml")
    bomb = gzip.compress(b"<urlset>" + b" " * (60 * 1024 * 1024) + b"</urlset>")
    with pytest.raises(FeedError, match="uncompressed"):
        parse_news_sitemap(bomb, "https://nakheel.example/s.xml.gz")


def test_entry_authors() -> None:
    rss = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>الواحة</title>
  <item><link>https://wahat.example/1</link><author>sara@wahat.net (سارة الأحمد)</author></item>
  <item><link>https://wahat.example/2</link><author>desk@wahat.net</author></item>
  <item><link>https://wahat.example/3</link><dc:creator>سارة الأحمد</dc:creator><dc:creator>عمر خالد</dc:creator></item>
  <item><link>https://wahat.example/4</link></item>
</channel></rss>""".encode()
    authors = [item.author for item in parse_feed(rss, "https://wahat.example/rss.xml")]
    # The name without the e-mail address; an address alone names nobody. (feedparser cuts an address
    # whose top-level domain has over four letters, sara@wahat.example, at the fourth: real ones pass.)
    assert authors == ["سارة الأحمد", None, "سارة الأحمد; عمر خالد", None]
    atom = ATOM.replace(b"<updated>2026-11-11T10:00:00+02:00</updated>",
                        "<author><name>عمر خالد</name><email>omar@sahel.example</email></author>".encode())
    assert parse_feed(atom, "https://sahel.example/atom.xml")[0].author == "عمر خالد"
