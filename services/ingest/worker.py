"""The ingest worker: raw documents in, clean articles out (non-Arabic ones to their own topic).

Per document: decode and extract; ask the source's boilerplate model which lines are chrome; run
the line passes; teach the model this document's lines; then find an earlier copy (same text,
same canonical URL, or a near-duplicate) so the events stage can count syndication.
"""

from __future__ import annotations

import asyncio
from typing import Any

from services.common.metrics import DECODED, DOCUMENTS
from services.common.redis_store import OUTCOME_SKIPPED, outcome_value
from services.common.stage import Delivery, ProcessingError, Stage
from services.common.topics import CLEAN_ARTICLES, OTHER_LANGUAGE, RAW_DOCUMENTS

from .article import (
    CleaningError,
    DecodingError,
    build_article,
    content_hash,
    extract_document,
    finish_cleaning,
)
from .boilerplate import BoilerplateModel, chrome_oracle
from .dedup import FirstSeen, SeenUrls
from .near_duplicates import NearDuplicateIndex
from .urls import canonical_url


class IngestError(ProcessingError):
    pass


class NotArabic(ProcessingError):
    error_class = "language"


def build_stage() -> Stage:
    stage = Stage("ingest")
    ttl = int(stage.settings.dedup_ttl_days * 86400)
    boilerplate = BoilerplateModel(stage.redis, stage.keys)
    seen_urls = SeenUrls(stage.redis, stage.keys, ttl)
    seen_texts = FirstSeen(stage.redis, stage.keys, ttl, "text")
    near_duplicates = NearDuplicateIndex(stage.settings.redis_url, stage.settings.redis_prefix,
                                         ttl_seconds=ttl, client=stage.redis)

    async def original_of(raw: dict[str, Any], text: str) -> str | None:
        doc_id = raw["doc_id"]
        exact = await seen_texts.first_article(content_hash(text), doc_id)
        if exact != doc_id:
            return exact
        if raw.get("url"):
            same_url = await seen_urls.first_article_for_url(canonical_url(raw["url"]), doc_id)
            if same_url != doc_id:
                return same_url
        signature = await asyncio.to_thread(near_duplicates.signature, text)
        original = await near_duplicates.find_original(doc_id, signature)
        await near_duplicates.add(doc_id, signature)
        return original

    async def handle(raw: dict[str, Any], delivery: Delivery) -> None:
        try:
            extracted = await asyncio.to_thread(extract_document, raw)
            if extracted.charset_evidence:
                DECODED.labels(extracted.charset_evidence).inc()
            chrome = await boilerplate.snapshot(raw["source"], extracted.lines)
            cleaned = finish_cleaning(extracted, chrome_oracle(chrome))
        except (CleaningError, DecodingError) as exc:
            DOCUMENTS.labels("ingest", "rejected").inc()
            raise IngestError(f"{type(exc).__name__}: {exc}") from None
        await boilerplate.learn(raw["source"], raw["doc_id"], extracted.lines)
        article = build_article(raw, cleaned, duplicate_of=await original_of(raw, cleaned.text))
        if article["language"] != "ar":
            DOCUMENTS.labels("ingest", "other-language").inc()
            if stage.settings.other_languages == "dead-letter":
                raise NotArabic(f"language {article['language']!r}: only Arabic goes on to entities")
            await stage.send(OTHER_LANGUAGE, article["article_id"], article)
            await stage.mark_outcome(raw["doc_id"], outcome_value(OUTCOME_SKIPPED, f"language-{article['language']}"))
            return
        await stage.send(CLEAN_ARTICLES, article["article_id"], article)
        DOCUMENTS.labels("ingest", "duplicate" if article["duplicate_of"] else "clean").inc()

    stage.consume(RAW_DOCUMENTS, handle)

    if stage.settings.sources:
        from .polling import poll_under_lease

        async def publish(raw: dict[str, Any]) -> None:
            # Polled documents take the same road as replayed ones: through the raw topic.
            await stage.send(RAW_DOCUMENTS, raw["doc_id"], raw)

        @stage.app.task
        async def poll_feeds() -> None:
            await poll_under_lease(stage.settings, stage.redis, stage.keys, publish)

    return stage
