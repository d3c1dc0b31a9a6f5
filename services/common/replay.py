"""Pushing documents into the pipeline and waiting until each has left it (events or dead letters)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer

from services.ingest.files import InvalidRecord

from . import dead_letters
from .codec import encode
from .config import Settings
from .kafka_security import kafka_client_options
from .redis_store import OUTCOME_DEAD_LETTER, Keys, connect, outcome_value, read_outcomes
from .topics import DEAD_LETTERS, RAW_DOCUMENTS, topic_name

BATCH = 200


@dataclass
class PushResult:
    doc_ids: list[str] = field(default_factory=list)
    rejected: list[InvalidRecord] = field(default_factory=list)


async def push_documents(settings: Settings, documents: Iterable[dict[str, Any] | InvalidRecord],
                         on_progress: Callable[[int], None] = lambda _: None) -> PushResult:
    """Produce every valid document to the raw topic; dead-letter invalid records with their reason."""
    result = PushResult()
    redis = connect(settings.redis_url, settings)
    keys = Keys(settings.redis_prefix)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all",
                                linger_ms=5, client_id="marsad-replay", max_request_size=16 * 1024 * 1024,
                                **kafka_client_options(settings))
    await producer.start()
    raw_topic = topic_name(settings.topic_prefix, RAW_DOCUMENTS)
    try:
        pending: list[asyncio.Future[Any]] = []
        for document in documents:
            if isinstance(document, InvalidRecord):
                result.rejected.append(document)
                # Never produced, so no partition or offset: the reason names the file instead.
                letter = dead_letters.dead_letter(
                    stage="replay", topic=raw_topic, partition=None, offset=None, key=None,
                    value=document.payload.encode("utf-8"), error_class=dead_letters.SCHEMA,
                    reason=f"{document.source_path}: {document.reason}", doc_id=None)
                pending.append(await producer.send(topic_name(settings.topic_prefix, DEAD_LETTERS),
                                                   encode(DEAD_LETTERS, letter),
                                                   key=letter["dead_letter_id"].encode()))
                continue
            doc_id = document["doc_id"]
            # A replayed document is waited for afresh, even if an earlier run saw it.
            redis.delete(keys.outcome(doc_id))
            pending.append(await producer.send(raw_topic, encode(RAW_DOCUMENTS, document), key=doc_id.encode()))
            result.doc_ids.append(doc_id)
            if len(pending) >= BATCH:
                await asyncio.gather(*pending)
                pending.clear()
                on_progress(len(result.doc_ids))
        await asyncio.gather(*pending)
        on_progress(len(result.doc_ids))
    finally:
        await producer.stop()
        redis.close()
    return result


class Stalled(RuntimeError):
    """No document made progress for too long."""


def wait_for_outcomes(settings: Settings, doc_ids: list[str], *, stall_timeout: float = 300.0,
                      on_progress: Callable[[int], None] = lambda _: None,
                      check_alive: Callable[[], None] = lambda: None) -> dict[str, str]:
    """Poll Redis until every document has an outcome; raise Stalled when progress stops."""
    redis = connect(settings.redis_url, settings)
    keys = Keys(settings.redis_prefix)
    outcomes: dict[str, str] = {}
    remaining = list(dict.fromkeys(doc_ids))
    last_progress = time.monotonic()
    try:
        while remaining:
            found = read_outcomes(redis, keys, remaining)
            if found:
                outcomes.update(found)
                remaining = [d for d in remaining if d not in found]
                last_progress = time.monotonic()
                on_progress(len(outcomes))
            elif time.monotonic() - last_progress > stall_timeout:
                raise Stalled(f"{len(remaining)} documents made no progress for {stall_timeout:.0f}s")
            check_alive()
            if remaining:
                time.sleep(0.25)
    finally:
        redis.close()
    return outcomes


def summarize(outcomes: dict[str, str]) -> Counter[str]:
    kinds: Counter[str] = Counter()
    for value in outcomes.values():
        kind, _, detail = value.partition(":")
        kinds[kind if kind != OUTCOME_DEAD_LETTER else outcome_value(kind, detail)] += 1
    return kinds
