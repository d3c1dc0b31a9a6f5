"""The entities worker: clean articles in, articles with canonical entities out."""

from __future__ import annotations

import asyncio
from typing import Any

from services.common.metrics import DOCUMENTS, ENTITIES, NER_TOKENS
from services.common.stage import Delivery, Stage
from services.common.topics import CLEAN_ARTICLES, ENRICHED_ARTICLES

from .enrich import enriched_message, recognize
from .extract import build_entities, lookup_keys
from .recognizers import load_recognizer
from .registry import AliasRegistry


def build_stage() -> Stage:
    stage = Stage("entities")
    recognizer = load_recognizer(stage.settings.ner_backend)
    registry = AliasRegistry(stage.redis, stage.keys)

    async def handle(article: dict[str, Any], delivery: Delivery) -> None:
        # NER is CPU-bound: run it off the event loop so heartbeats and health checks keep flowing.
        mentions = await asyncio.to_thread(recognize, article, recognizer)
        snapshot = await registry.snapshot(lookup_keys(mentions))
        extraction = build_entities(mentions, snapshot)
        enriched = enriched_message(article, extraction, recognizer.name)
        await registry.learn(extraction)
        await stage.send(ENRICHED_ARTICLES, article["article_id"], enriched)
        NER_TOKENS.labels(recognizer.name).inc(len(article["text"].split()) + len(article["title"].split()))
        for entity in extraction.entities:
            ENTITIES.labels(entity["type"]).inc()
        DOCUMENTS.labels("entities", "enriched").inc()

    stage.consume(CLEAN_ARTICLES, handle)
    return stage

