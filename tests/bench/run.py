"""`make bench`: replay SaudiNewsNet articles end to end and report throughput and latency.

Latency is measured per article from the moment its raw document is sent (its ``received_at``;
SaudiNewsNet's own dates are from 2015) to the first event update that lists it, read back from the
events topic. Everything runs on the embedded broker and Redis, in one run, on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from services.common.clock import iso, to_epoch
from services.common.config import Settings
from services.common.pipeline import Pipeline
from services.common.replay import push_documents, summarize, wait_for_outcomes
from services.common.topics import EVENT_UPDATES, topic_name
from services.ingest.files import saudinewsnet_documents


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def first_update_times(settings: Settings, wanted: set[str], timeout: float = 60.0) -> dict[str, float]:
    consumer = AIOKafkaConsumer(topic_name(settings.topic_prefix, EVENT_UPDATES),
                                bootstrap_servers=settings.kafka_bootstrap_servers, group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    seen: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    try:
        while len(seen) < len(wanted) and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                for record in records:
                    update = json.loads(record.value)
                    at = to_epoch(update["updated_at"]) or 0.0
                    for article in update["articles"]:
                        if article["article_id"] in wanted:
                            seen[article["article_id"]] = min(seen.get(article["article_id"], at), at)
    finally:
        await consumer.stop()
    return seen


def ner_speed(shared: Path, sentences: int = 1500) -> None:
    """Tokens/s of the default NER (the training split's text: a speed figure, not an accuracy one)."""
    from services.entities.evaluation import read_conll
    from services.entities.ner import default_model

    data = shared / "corpus" / "anercorp" / "train.txt"
    if not data.exists():
        return
    tokens = [words for words, _ in read_conll(data)[:sentences]]
    model = default_model()
    started = time.process_time()
    model.tag(tokens)
    elapsed = time.process_time() - started
    print(f"NER (default model, one core): {sum(map(len, tokens)) / elapsed:.0f} tokens/s over {len(tokens)} sentences")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--articles", type=int, default=1000, help="how many SaudiNewsNet articles to replay")
    parser.add_argument("--skip-components", action="store_true", help="only the end-to-end replay")
    args = parser.parse_args()
    corpus = args.shared / "corpus" / "saudinewsnet"
    if not corpus.is_dir():
        print(f"bench skipped: {corpus} not found (the benchmark replays SaudiNewsNet from ../shared)")
        return 0
    if not args.skip_components:
        from . import components

        print("== stage cores alone")
        components.run(args.shared)
        ner_speed(args.shared)
        from . import bert_speed

        bert_speed.run()
    print("== end to end")
    documents = []
    for day in sorted(corpus.glob("*.zip")):
        documents.extend(d for d in itertools.islice(saudinewsnet_documents(day), args.articles - len(documents))
                         if isinstance(d, dict))
        if len(documents) >= args.articles:
            break
    home = Path(tempfile.mkdtemp(prefix="marsad-bench-"))
    settings = replace(Settings.from_env({}), home=home)
    print(f"bench: {len(documents)} SaudiNewsNet articles, embedded broker and Redis, state in {home}")
    pipeline = Pipeline.services(settings)
    try:
        pipeline.create_topics()
        pipeline.start_workers()
        pipeline.wait_ready()
        started = time.monotonic()
        stamped = [{**d, "received_at": iso()} for d in documents]
        sent_at = {d["doc_id"]: time.time() for d in stamped}
        result = asyncio.run(push_documents(pipeline.settings, stamped))
        outcomes = wait_for_outcomes(pipeline.settings, result.doc_ids, stall_timeout=300)
        elapsed = time.monotonic() - started
        reached = {d for d, v in outcomes.items() if v.startswith("event:")}
        updates = asyncio.run(first_update_times(pipeline.settings, reached))
        latencies = [updates[d] - sent_at[d] for d in updates]
    finally:
        pipeline.stop()
    print(f"outcomes: {dict(summarize(outcomes))}")
    print(f"end to end: {len(result.doc_ids)} articles in {elapsed:.1f}s = {len(result.doc_ids) / elapsed:.1f} articles/s")
    print(f"latency (sent -> first event update), {len(latencies)} articles: "
          f"p50 {percentile(latencies, 50):.2f}s  p95 {percentile(latencies, 95):.2f}s  "
          f"p99 {percentile(latencies, 99):.2f}s  mean {statistics.fmean(latencies) if latencies else 0:.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
