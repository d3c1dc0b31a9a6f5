"""The ingest worker: raw documents in, clean articles out (non-Arabic ones to their own topic)."""

from __future__ import annotations

from typing import Any

from services.common.metrics import DOCUMENTS
from services.common.redis_store import OUTCOME_SKIPPED, outcome_value
from services.common.stage import Delivery, ProcessingError, Stage
from services.common.topics import CLEAN_ARTICLES, OTHER_LANGUAGE, RAW_DOCUMENTS

from .article import CleaningError, DecodingError, build_article, clean_document, content_hash


class IngestError(ProcessingError):
    pass


def build_stage() -> Stage:
    stage = Stage("ingest")
    dedup_ttl = int(stage.settings.dedup_ttl_days * 86400)

    async def first_copy(article_id: str, fingerprint: str) -> str:
        """The article that first carried this exact text (itself when it is the first)."""
        key = stage.keys("ingest", "text", fingerprint)
        # SET NX makes the first writer win; a redelivered message finds its own id and stays original.
        await stage.redis.set(key, article_id, nx=True, ex=dedup_ttl)
        return await stage.redis.get(key) or article_id

    async def handle(raw: dict[str, Any], delivery: Delivery) -> None:
        try:
            cleaned = clean_document(raw)
        except (CleaningError, DecodingError) as exc:
            DOCUMENTS.labels("ingest", "rejected").inc()
            raise IngestError(f"{type(exc).__name__}: {exc}") from None
        original = await first_copy(raw["doc_id"], content_hash(cleaned.text))
        article = build_article(raw, cleaned, duplicate_of=original)
        if article["language"] != "ar":
            await stage.send(OTHER_LANGUAGE, article["article_id"], article)
            await stage.mark_outcome(raw["doc_id"], outcome_value(OUTCOME_SKIPPED, f"language-{article['language']}"))
            DOCUMENTS.labels("ingest", "other-language").inc()
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
