"""Feeds end to end: the ingest worker polls a real HTTP feed and the sample pages become events."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from services.common.arabic import normalize_display
from services.common.clock import iso
from services.common.pipeline import Pipeline
from services.common.redis_store import Keys, connect
from services.common.topics import CLEAN_ARTICLES
from services.events.store import current_events
from services.ingest import SAMPLE_FEED
from services.ingest.article import clean_document
from services.ingest.files import iter_documents

from .conftest import read_topic, start_pipeline

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
# What the feed says of every page, where the page's own metadata give other dates and authors.
FEED_AUTHOR = "مراسل العينة"
FEED_DATE = datetime.now(UTC).replace(microsecond=0)  # recent, as a polled feed's items are


def write_site(site: Path) -> dict[str, str]:
    """A small news site: the sample pages and an RSS feed listing them, each with its headline,
    a date and an author. Returns each page's headline by its path under /news/."""
    headlines: dict[str, str] = {}
    for document in iter_documents([SAMPLE_FEED]):
        assert isinstance(document, dict)
        source_path = Path(document["source_path"])
        relative = f"{source_path.parent.name}/{source_path.name}"
        target = site / "news" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source_path.read_bytes())
        headlines[relative] = clean_document(document).title  # as the page itself states it
    items = [f"<item><title>{escape(headline)}</title><link>/news/{p}</link><guid>{p}</guid>"
             f"<pubDate>{format_datetime(FEED_DATE)}</pubDate><author>desk@sample.net ({FEED_AUTHOR})</author></item>"
             for p, headline in headlines.items()]
    (site / "feed.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>عينة</title>'
        f'<link>/</link><description>sample</description>{"".join(items)}</channel></rss>', encoding="utf-8")
    return headlines


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    root = tmp_path / "site"
    root.mkdir()
    headlines = write_site(root)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", headlines
    server.shutdown()


def test_polled_feed_items_become_events(tmp_path: Path, site: tuple[str, dict[str, str]]) -> None:
    base, headlines = site
    pages = list(headlines)
    sources = tmp_path / "sources.toml"
    sources.write_text(f'[[source]]\nname = "sample-site"\nkind = "rss"\nurl = "{base}/feed.xml"\ninterval = 2\n')
    pipeline: Pipeline = start_pipeline(tmp_path / "home", lambda s: replace(
        s, sources=str(sources), fetch_allow="127.0.0.1", fetch_host_delay=0.01))
    try:
        client = connect(pipeline.settings.redis_url)
        keys = Keys(pipeline.settings.redis_prefix)
        deadline = time.monotonic() + 300
        members: set[str] = set()
        while time.monotonic() < deadline:
            assert not pipeline.dead_workers()
            events = current_events(client, keys)
            members = {a["url"].split("/news/", 1)[1] for e in events for a in e["articles"] if a["url"]}
            if members >= set(pages):
                break
            time.sleep(1)
        assert members == set(pages), f"{len(members)}/{len(pages)} polled pages reached an event"
        state = client.hgetall(keys("feed", "sample-site", "state"))
        assert state.get("last_status") in ("200", "304") and float(state["last_success"]) > 0  # 304: polled again
        expected = json.loads((ROOT / "tests" / "fixtures" / "sample_feed_events.json").read_text())
        story = {page: name for name, group in expected["events"].items() for page in group}
        where = {a["url"].split("/news/", 1)[1]: e["event_id"] for e in current_events(client, keys)
                 for a in e["articles"]}
        mixed = [(a, b) for a in where for b in where if story[a] != story[b] and where[a] == where[b]]
        assert not mixed, mixed[:3]
        # Every article carries its feed entry's headline, date and author (the pages name others).
        clean = [json.loads(m.value) for m in asyncio.run(read_topic(pipeline.settings, CLEAN_ARTICLES,
                                                                    until=len(pages), timeout=30))]
        assert len(clean) == len(pages)
        for article in clean:
            page = article["url"].split("/news/", 1)[1]
            assert (article["title"], article["published_at"], article["author"]) == (
                normalize_display(headlines[page]), iso(FEED_DATE), FEED_AUTHOR), page
        # A second poll finds nothing new: every page stays in exactly one event.
        time.sleep(5)
        total = sum(e["article_count"] for e in current_events(client, keys))
        assert total == len(pages)
        client.close()
    finally:
        pipeline.stop()
