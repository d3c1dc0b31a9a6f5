"""The events worker: enriched articles in, event updates out."""

from __future__ import annotations

import time
from typing import Any

from services.common.clock import to_epoch
from services.common.metrics import (
    DOCUMENTS,
    END_TO_END_SECONDS,
    EVENTS_ACTIVE,
    EVENTS_CHANGED,
    PIPELINE_SECONDS,
)
from services.common.redis_store import OUTCOME_EVENT, outcome_value
from services.common.stage import Delivery, Stage
from services.common.topics import ENRICHED_ARTICLES, EVENT_UPDATES

from .features import article_features
from .store import EventStore


def build_stage() -> Stage:
    stage = Stage("events")
    store = EventStore(stage.redis, stage.keys, stage.settings.event_threshold)

    async def handle(article: dict[str, Any], delivery: Delivery) -> None:
        assignment = await store.assign(article, article_features(article))
        # Sent again on a redelivery too: updates are keyed by event id and carry the same version.
        for event_id, update in assignment.updates:
            await stage.send(EVENT_UPDATES, event_id, update)
        await stage.mark_outcome(article["doc_id"], outcome_value(OUTCOME_EVENT, assignment.event_id))
        if assignment.repeated:
            DOCUMENTS.labels("events", "repeated").inc()
            return
        for _, update in assignment.updates:
            EVENTS_CHANGED.labels(update["status"]).inc()
        DOCUMENTS.labels("events", "assigned").inc()
        now = time.time()
        received = to_epoch(article["received_at"]) or now
        published = to_epoch(article.get("published_at"))
        # A publish time in the future, or older than the document's arrival by days (a replay),
        # says nothing about our speed: fall back to when Marsad received it.
        origin = published if published and received - 86400 <= published <= now else received
        END_TO_END_SECONDS.observe(max(now - origin, 0.0))
        PIPELINE_SECONDS.observe(max(now - received, 0.0))

    @stage.app.timer(interval=15.0)
    async def count_active() -> None:
        EVENTS_ACTIVE.set(await store.active_count())

    stage.consume(ENRICHED_ARTICLES, handle)
    return stage
