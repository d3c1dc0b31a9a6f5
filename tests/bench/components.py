"""Stage cores measured alone, in one process (one core for the Python side), in one run.

* clean: text documents/s (SaudiNewsNet bodies) and HTML pages/s (the sample feed's pages, and
  the real CNN Arabic page with and without a feed entry's title, date and author);
* aggregation: articles/s through the events stage's Redis logic (real valkey-server), and the
  per-article cost when the number of active events grows from 1,000 to 100,000 (synthetic events
  that share index keys with the real articles, so retrieval has crowded postings to read).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from redis.exceptions import ResponseError

from services.common import heap
from services.common.config import Settings
from services.common.embedded import EmbeddedRedis
from services.common.redis_store import Keys, connect_async
from services.events.clustering import EventProfile
from services.events.features import article_features
from services.events.store import EventStore
from services.events.updates import EventRecord
from services.ingest import SAMPLE_FEED
from services.ingest.article import build_article, clean_document
from services.ingest.cleaning import CleaningError, clean_html, clean_text
from services.ingest.files import saudinewsnet_documents
from services.ingest.html import KnownMetadata


def saudinewsnet(shared: Path, limit: int) -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    for day in sorted((shared / "corpus" / "saudinewsnet").glob("*.zip")):
        documents.extend(d for d in saudinewsnet_documents(day) if isinstance(d, dict) and d["content"].strip())
        if len(documents) >= limit:
            break
    return documents[:limit]


def clean_rates(documents: list[dict[str, Any]]) -> dict[str, float]:
    texts = [d["content"] for d in documents]
    started = time.process_time()
    for text in texts:
        with contextlib.suppress(CleaningError):
            clean_text(text)
    text_rate = len(texts) / (time.process_time() - started)
    pages = [p.read_text(encoding="utf-8") for p in sorted(SAMPLE_FEED.rglob("*.html"))]
    rounds = max(1, 200 // len(pages))
    started = time.process_time()
    for page in pages * rounds:
        clean_html(page)
    html_rate = len(pages) * rounds / (time.process_time() - started)
    return {"text_docs_per_s": text_rate, "html_pages_per_s": html_rate}


def real_page_rates(shared: Path, rounds: int = 50, repeats: int = 3) -> dict[str, float] | None:
    """HTML pages/s on the one real news page in ../shared (the sample pages are small and invented):
    given the page alone (it is searched for its metadata, as a replayed file is), and given the
    title, date and author a feed entry carries (trafilatura's metadata search is skipped).
    The two alternate and each keeps its best of ``repeats``, so a busy other core skews neither."""
    path = shared / "corpus" / "html" / "cnn_arabic_article.html"
    if not path.exists():
        return None
    page = path.read_text(encoding="utf-8")
    # What the page's feed entry would carry: its headline, a date and a byline.
    known = KnownMetadata(title=clean_html(page).title, published_at="2013-08-28T09:00:00+00:00",
                          author="CNN Arabic")
    runs = {"pages_per_s": lambda: clean_html(page),
            "pages_per_s_from_feed": lambda: clean_html(page, known=known)}
    rates = dict.fromkeys(runs, 0.0)
    for _ in range(repeats):
        for name, clean in runs.items():
            started = time.process_time()
            for _ in range(rounds):
                clean()
            rates[name] = max(rates[name], rounds / (time.process_time() - started))
    return {**rates, "page_bytes": len(page.encode("utf-8"))}


def enriched_articles(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from services.entities.enrich import enrich
    from services.entities.recognizers import load_recognizer

    recognizer = load_recognizer()
    articles = []
    for document in documents:
        try:
            articles.append(enrich(build_article(document, clean_document(document)), recognizer))
        except CleaningError:
            continue
    return articles


async def _fill_synthetic_events(store: EventStore, count: int, vocabulary: list[str], entities: list[str],
                                 now: float) -> None:
    """``count`` small active events filed under real terms and entities, written in bulk."""
    rng = random.Random(7)
    batch = 2000
    for start in range(0, count, batch):
        async with store.client.pipeline(transaction=False) as pipe:
            for index in range(start, min(start + batch, count)):
                event_id = f"ev-synthetic-{index:07d}"
                terms = {t: round(8 ** -0.5, 4) for t in rng.sample(vocabulary, 8)}  # a unit vector
                profile = EventProfile(event_id, terms, {e: 1 for e in rng.sample(entities, 2)}, 1, now, now,
                                       [terms])
                record = EventRecord(profile, version=1, indexed_terms=sorted(terms))
                pipe.set(store._event(event_id), json.dumps(record.to_json()))
                pipe.hset(store._versions, event_id, record.version)
                pipe.zadd(store._active, {event_id: now - rng.random() * 3600})
                for term in terms:
                    pipe.zadd(store._index("t", term), {event_id: now - rng.random() * 3600})
                for entity in profile.entities:
                    pipe.zadd(store._index("e", entity), {event_id: now - rng.random() * 3600})
            await pipe.execute()


async def _settle(client: Any) -> None:
    """Compact the append-only file after bulk loading and wait until that is done: otherwise the
    rewrite the load sets off runs during the measurement, takes the measured run's CPU on two cores
    and charges the large event count for what is a one-off."""
    try:
        await client.bgrewriteaof()
    except ResponseError as exc:
        if "already in progress" not in str(exc):  # the load set one off already: wait for it below
            raise
    await asyncio.sleep(0.2)
    while True:
        info = await client.info("persistence")
        if not info.get("aof_rewrite_in_progress") and not info.get("aof_rewrite_scheduled"):
            return
        await asyncio.sleep(0.2)


async def _server_cpu(client: Any) -> float:
    info = await client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def _assign_all(store: EventStore, articles: list[dict[str, Any]], batch: int) -> tuple[float, float, float]:
    """What the events worker does per batch of articles, Kafka aside (features, then assignment):
    seconds of wall time, of this process's CPU and of valkey-server's CPU, so a reader sees which
    side costs."""
    heap.settle()  # as the worker does once started (services/common/stage.py)
    server_before = await _server_cpu(store.client)
    started, cpu_started = time.perf_counter(), time.process_time()
    for start in range(0, len(articles), batch):
        await store.assign_batch([(article, article_features(article)) for article in articles[start:start + batch]])
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return elapsed, cpu, await _server_cpu(store.client) - server_before


def aggregation_rates(articles: list[dict[str, Any]], sizes: Iterable[int] = (1_000, 100_000),
                      batch: int = Settings().event_batch) -> dict[str, float]:
    """Articles/s of the events stage's logic on real Redis, per number of pre-existing active
    events, in batches of the worker's default size."""
    now = time.time()
    restamped = [{**a, "published_at": None, "received_at": a["received_at"]} for a in articles]
    features = [article_features(a) for a in restamped]
    vocabulary = sorted({t for f in features for t in f.terms})
    entity_ids = sorted({e for f in features for e in f.entities}) or ["LOC:0000000000000000"]
    results: dict[str, float] = {}
    for size in sizes:
        home = Path(tempfile.mkdtemp(prefix="marsad-agg-"))
        server = EmbeddedRedis(home).start()

        async def measure(size: int = size, server: EmbeddedRedis = server) -> float:
            client = connect_async(server.url, stage="bench")
            store = EventStore(client, Keys("bench:"), threshold=0.25)
            await _fill_synthetic_events(store, size, vocabulary, entity_ids, now)
            await _settle(client)
            times = await _assign_all(store, restamped, batch)
            await client.aclose()
            return times

        try:
            elapsed, cpu, server_cpu = asyncio.run(measure())
        finally:
            server.stop()
        results[f"articles_per_s_at_{size}_events"] = len(articles) / elapsed
        results[f"client_cpu_ms_at_{size}_events"] = 1000 * cpu / len(articles)
        results[f"server_cpu_ms_at_{size}_events"] = 1000 * server_cpu / len(articles)
    return results


def run(shared: Path, documents: int = 2000, aggregated: int = 400) -> None:
    corpus = saudinewsnet(shared, documents)
    if not corpus:
        print("components skipped: no SaudiNewsNet in ../shared")
        return
    rates = clean_rates(corpus)
    print(f"clean stage alone (one core): {rates['text_docs_per_s']:.0f} text documents/s "
          f"(SaudiNewsNet, {len(corpus)}), {rates['html_pages_per_s']:.0f} HTML pages/s (sample feed pages, "
          f"about 10 KB each)")
    real = real_page_rates(shared)
    if real:
        print(f"clean stage on a real news page ({real['page_bytes'] // 1000} KB, CNN Arabic): "
              f"{real['pages_per_s']:.0f} HTML pages/s given the page alone (its metadata searched), "
              f"{real['pages_per_s_from_feed']:.0f} HTML pages/s when a feed entry gives the title, date and "
              f"author (metadata search skipped)")
    articles = enriched_articles(list(itertools.islice(corpus, aggregated)))
    aggregation = aggregation_rates(articles)
    small, large = aggregation["articles_per_s_at_1000_events"], aggregation["articles_per_s_at_100000_events"]
    print(f"aggregation alone (features and event assignment on real valkey, {len(articles)} articles in "
          f"batches of {Settings().event_batch}): "
          f"{small:.0f} articles/s with 1,000 active events, "
          f"{large:.0f} articles/s with 100,000; per-article cost ratio {small / large:.2f}x")
    for size in (1_000, 100_000):
        print(f"  per article with {size:,} events: {aggregation[f'client_cpu_ms_at_{size}_events']:.2f} ms of "
              f"Python CPU (features, scoring, Redis client), {aggregation[f'server_cpu_ms_at_{size}_events']:.2f} ms "
              f"of valkey-server CPU")


if __name__ == "__main__":
    run(Path("../shared"))
