"""The whole pipeline on the real Tansu broker and valkey-server, over real sockets."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from services.common.arabic import normalize_for_matching
from services.common.clock import iso
from services.common.pipeline import Pipeline
from services.common.redis_store import Keys, connect, read_outcomes
from services.common.replay import push_documents, wait_for_outcomes
from services.common.topics import (
    CLEAN_ARTICLES,
    DEAD_LETTERS,
    ENRICHED_ARTICLES,
    OTHER_LANGUAGE,
    RAW_DOCUMENTS,
)
from services.events.store import current_events
from services.ingest import SAMPLE_FEED
from services.ingest.files import document_id, iter_documents
from tests.conftest import shared_path

from .conftest import produce_raw, read_topic, start_pipeline
from .test_event_store import FLOOD, SOHAR, T0
from .test_event_store import article as enriched_article

pytestmark = pytest.mark.integration


def _norm(text: str) -> str:
    return " ".join(text.split())


def _alive(pipeline: Pipeline) -> None:
    dead = pipeline.dead_workers()
    assert not dead, f"{dead[0].stage} worker died: see {dead[0].log_path}"


def _events_by_file(pipeline: Pipeline) -> dict[str, set[str]]:
    client = connect(pipeline.settings.redis_url)
    try:
        events = current_events(client, Keys(pipeline.settings.redis_prefix))
    finally:
        client.close()
    where: dict[str, set[str]] = {}
    for event in events:
        for article in event["articles"]:
            where.setdefault(os.path.basename(article["source_path"] or ""), set()).add(event["event_id"])
    return where


def test_seeds_give_clean_articles_with_entities_and_events_that_obey_the_gold(pipeline: Pipeline) -> None:
    seeds = shared_path("corpus", "seeds")
    gold = json.loads((seeds / "gold.json").read_text(encoding="utf-8"))
    result = asyncio.run(push_documents(pipeline.settings, iter_documents([seeds])))
    assert len(result.doc_ids) == 5
    # gold.json sits beside the seeds and is no raw document: it is dead-lettered, not lost.
    assert [Path(r.source_path).name for r in result.rejected] == ["gold.json"]
    outcomes = wait_for_outcomes(pipeline.settings, result.doc_ids, stall_timeout=300,
                                 check_alive=lambda: _alive(pipeline))
    assert sorted(v.split(":")[0] for v in outcomes.values()) == ["event"] * 5, outcomes

    ids = set(result.doc_ids)
    clean = {m.key.decode(): json.loads(m.value) for m in
             asyncio.run(read_topic(pipeline.settings, CLEAN_ARTICLES, timeout=10)) if m.key.decode() in ids}
    assert len(clean) == 5
    for article in clean.values():
        name = os.path.basename(article["source_path"])
        expected = gold["files"][name]
        text = _norm(article["title"] + "\n" + article["text"])
        assert all(_norm(line) in text for line in expected["body"]), name
        assert _norm(expected["title"]) in _norm(article["title"]), name
        body_lines = {_norm(line) for line in article["text"].splitlines()}
        assert not [b for b in expected["boilerplate"] if _norm(b) in body_lines], name

    enriched = {m.key.decode(): json.loads(m.value) for m in
                asyncio.run(read_topic(pipeline.settings, ENRICHED_ARTICLES, timeout=10)) if m.key.decode() in ids}
    assert len(enriched) == 5
    for article in enriched.values():
        assert len(article["entities"]) >= 5, article["source_path"]
        for entity in article["entities"]:
            for mention in entity["mentions"]:
                source = article["title"] if mention["in_title"] else article["text"]
                assert source[mention["start"]:mention["end"]] == mention["text"]

    # Spellings of one entity resolve to one canonical id across the five articles.
    def fold(name: str) -> str:
        return normalize_for_matching(name).replace("ه", "ة")

    ids_of: dict[tuple[str, str], set[str]] = {}
    for article in enriched.values():
        for entity in article["entities"]:
            for name in {entity["canonical_name"], *entity["surface_forms"]}:
                ids_of.setdefault((entity["type"], fold(name)), set()).add(entity["canonical_id"])
    for group in gold["entities"]["same_entity"]:
        # A mistyped mention is the recognizer's error, not canonicalization's: each type on its own.
        by_kind = {kind: set().union(*(ids_of.get((kind, fold(name)), set()) for name in group))
                   for kind in ("LOC", "PERS", "ORG", "MISC")}
        for found in by_kind.values():
            assert len(found) <= 1, f"{group} resolve to {found}"
        # ... and every spelling is found, as a name or surface form of that one entity.
        kind = max(by_kind, key=lambda k: sum((k, fold(name)) in ids_of for name in group))
        assert all((kind, fold(name)) in ids_of for name in group), f"not every spelling of {group} found"

    where = _events_by_file(pipeline)
    events_log = next(w for w in pipeline.workers if w.stage == "events").log_path.read_text(encoding="utf-8")
    lines = [json.loads(line) for line in events_log.splitlines() if line.startswith("{")]
    logged = {(line.get("article_id"), line.get("event_id")) for line in lines}
    for article_id in ids:
        assert any(a == article_id and e for a, e in logged), f"no structured log line for {article_id}"
    for a, b in gold["events"]["must_share"]:
        assert where[a] & where[b], f"{a} and {b} must share an event"
    for a, b in gold["events"]["must_not_share"]:
        assert not where[a] & where[b], f"{a} and {b} must not share an event"


def _raw(doc_id: str, content: str, **extra: Any) -> dict[str, Any]:
    return {"schema_version": 1, "doc_id": doc_id, "source": "tests", "content_type": "text/plain",
            "content": content, "received_at": iso(), **extra}


GOOD_ARTICLE = """افتتاح معرض الكتاب في مدينة الرباط

افتتح وزير الثقافة المغربي صباح اليوم الدورة الجديدة من معرض الكتاب الدولي في مدينة الرباط بمشاركة أكثر من ستمئة دار نشر من العالم العربي.

وقال مدير المعرض في كلمة الافتتاح إن الدورة تحتفي بالترجمة وتستضيف ندوات يومية حول مستقبل النشر الرقمي في المنطقة.
"""


ENGLISH_ARTICLE = """Book fair opens in Rabat

The culture minister opened the new edition of the international book fair in Rabat this morning, with more than six hundred publishers taking part.

The fair's director said the edition celebrates translation and hosts daily panels on the future of digital publishing.
"""


def test_malformed_messages_go_to_dead_letters_while_workers_keep_running(pipeline: Pipeline) -> None:
    settings = pipeline.settings
    not_json = b"\xff\xfe{ this is not json"
    breaks_schema = json.dumps({"schema_version": 1, "doc_id": "dl-schema"}).encode()
    empty_body = json.dumps(_raw("dl-empty", "   \n  ")).encode()
    good_id = document_id("dead-letter-test", GOOD_ARTICLE)
    good = json.dumps(_raw(good_id, GOOD_ARTICLE), ensure_ascii=False).encode()
    english = json.dumps(_raw("not-arabic", ENGLISH_ARTICLE)).encode()
    asyncio.run(produce_raw(settings, RAW_DOCUMENTS, [
        (b"dl-decode", not_json), (b"dl-schema", breaks_schema), (b"dl-empty", empty_body), (good_id.encode(), good),
        (b"not-arabic", english),
    ]))
    outcomes = wait_for_outcomes(settings, ["dl-decode", "dl-schema", "dl-empty", good_id, "not-arabic"],
                                 stall_timeout=180, check_alive=lambda: _alive(pipeline))
    assert outcomes["not-arabic"].startswith("skipped:language-")
    other = [m.key for m in asyncio.run(read_topic(settings, OTHER_LANGUAGE, timeout=5))]
    assert b"not-arabic" in other
    assert outcomes["dl-decode"] == "dead-letter:ingest:decode"
    assert outcomes["dl-schema"] == "dead-letter:ingest:schema"
    assert outcomes["dl-empty"] == "dead-letter:ingest:processing"
    assert outcomes[good_id].startswith("event:")

    letters = [json.loads(m.value) for m in asyncio.run(read_topic(settings, DEAD_LETTERS, timeout=10))]
    by_doc = {letter["doc_id"]: letter for letter in letters}
    assert by_doc["dl-decode"]["payload_encoding"] == "base64"
    assert by_doc["dl-schema"]["payload"] == breaks_schema.decode()
    assert "required" in by_doc["dl-schema"]["reason"]
    assert by_doc["dl-empty"]["error_class"] == "processing" and by_doc["dl-empty"]["reason"]
    for doc_id in ("dl-decode", "dl-schema", "dl-empty"):
        letter = by_doc[doc_id]
        assert letter["original_topic"] == f"{settings.topic_prefix}raw-documents"
        assert letter["offset"] is not None
    _alive(pipeline)
    ingest = next(w for w in pipeline.workers if w.stage == "ingest")
    metrics = _metrics(ingest.health_url)
    for error_class in ("decode", "schema", "processing"):
        assert _sample(metrics, "marsad_dead_letters_total", error_class=error_class) >= 1, error_class


def test_a_bad_message_in_a_batch_of_enriched_articles_is_dead_lettered_alone(pipeline: Pipeline) -> None:
    """The events worker takes enriched articles in batches: one unreadable message among good
    ones goes to the dead-letter topic, the others are assigned."""
    settings = pipeline.settings
    first, second = (enriched_article(f"batch-good-{n}", FLOOD, T0 + 60 * n, [SOHAR]) for n in (1, 2))
    broken = json.dumps({"schema_version": 1, "doc_id": "batch-bad", "article_id": "batch-bad"}).encode()
    asyncio.run(produce_raw(settings, ENRICHED_ARTICLES, [
        (b"batch-good-1", json.dumps(first, ensure_ascii=False).encode()), (b"batch-bad", broken),
        (b"batch-good-2", json.dumps(second, ensure_ascii=False).encode()),
    ]))
    outcomes = wait_for_outcomes(settings, ["batch-good-1", "batch-bad", "batch-good-2"], stall_timeout=120,
                                 check_alive=lambda: _alive(pipeline))
    assert outcomes["batch-bad"] == "dead-letter:events:schema"
    assert outcomes["batch-good-1"].startswith("event:")
    assert outcomes["batch-good-2"] == outcomes["batch-good-1"]  # the same story, in one event
    _alive(pipeline)


def _metrics(url: str) -> str:
    with urllib.request.urlopen(url + "/metrics", timeout=5) as response:
        return response.read().decode()


def _sample(metrics: str, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith(name + " "):
            label_text, value = "", line.split(" ", 1)[1]
        elif line.startswith(name + "{"):
            label_text, value = line[len(name) + 1:].rsplit("} ", 1)
        else:
            continue
        if all(f'{k}="{v}"' in label_text for k, v in labels.items()):
            total += float(value)
    return total


def test_every_worker_serves_metrics_liveness_and_readiness(pipeline: Pipeline) -> None:
    for worker in pipeline.workers:
        with urllib.request.urlopen(worker.health_url + "/healthz", timeout=5) as response:
            assert json.load(response)["status"] == "alive"
        with urllib.request.urlopen(worker.health_url + "/readyz", timeout=5) as response:
            state = json.load(response)
        assert state["ready"] and state["redis"] and state["assigned_partitions"] >= 1
        metrics = _metrics(worker.health_url)
        assert 'marsad_build_info{revision="' in metrics
        assert _sample(metrics, "marsad_messages_consumed_total", stage=worker.stage) >= 1
        assert f'marsad_processing_seconds_bucket{{le="0.001",stage="{worker.stage}"}}' in metrics
    events = next(w for w in pipeline.workers if w.stage == "events")
    metrics = _metrics(events.health_url)
    assert _sample(metrics, "marsad_end_to_end_latency_seconds_count") >= 1
    assert _sample(metrics, "marsad_events_total", status="new") >= 1


def _sample_variants(copies: int) -> list[dict[str, Any]]:
    """The sample feed several times over, each copy a distinct document (own id, own last line)."""
    documents = []
    for copy in range(copies):
        for document in iter_documents([SAMPLE_FEED]):
            assert isinstance(document, dict)
            marker = f"<p>نسخة الاختبار رقم {copy} من هذا الخبر.</p></article>"
            content = document["content"].replace("</article>", marker, 1)
            documents.append({**document, "doc_id": document_id(document["doc_id"], str(copy)),
                              "content": content})
    return documents


def test_workers_killed_mid_stream_resume_with_nothing_lost_or_counted_twice(tmp_path: Path) -> None:
    pipeline = start_pipeline(tmp_path)
    try:
        settings = pipeline.settings
        documents = _sample_variants(3)
        ids = [d["doc_id"] for d in documents]
        asyncio.run(push_documents(settings, documents))
        client = connect(settings.redis_url)
        keys = Keys(settings.redis_prefix)
        deadline = time.monotonic() + 300
        while len(read_outcomes(client, keys, ids)) < len(ids) // 4:
            assert time.monotonic() < deadline, "pipeline made no progress"
            time.sleep(0.2)
        for stage in ("events", "entities"):
            worker = next(w for w in pipeline.workers if w.stage == stage)
            worker.process.send_signal(signal.SIGKILL)
            worker.process.wait(10)
        done_at_kill = len(read_outcomes(client, keys, ids))
        assert done_at_kill < len(ids), "the stream finished before the kill; use more documents"
        for stage in ("events", "entities"):
            pipeline.restart(stage)
        outcomes = wait_for_outcomes(settings, ids, stall_timeout=300, check_alive=lambda: _alive(pipeline))
        assert len(outcomes) == len(ids)
        assert all(value.startswith("event:") for value in outcomes.values())

        events = current_events(client, keys)
        members = Counter(a["article_id"] for e in events for a in e["articles"])
        assert set(members) == set(ids)
        assert max(members.values()) == 1, "an article was counted twice"
        assert sum(e["article_count"] for e in events) == len(ids)
        # Document frequencies are counted in the same transaction as the assignment: exactly once.
        day_counters = list(client.scan_iter(match=keys("ev", "df", "*", "documents")))
        assert sum(int(client.get(k)) for k in day_counters) == len(ids)
        client.close()
    finally:
        pipeline.stop()
