"""The events worker: enriched articles in, event updates out; dormancy and trend snapshots on timers."""

from __future__ import annotations

import logging
import time
from typing import Any

from services.common.clock import to_epoch
from services.common.metrics import (
    DOCUMENTS,
    END_TO_END_SECONDS,
    EVENTS_ACTIVE,
    EVENTS_CHANGED,
    PIPELINE_SECONDS,
    TREND_WINDOW_MENTIONS,
    TRENDING_ENTITIES,
)
from services.common.redis_store import OUTCOME_EVENT, outcome_value
from services.common.stage import Delivery, Stage
from services.common.topics import ENRICHED_ARTICLES, EVENT_UPDATES, TREND_SNAPSHOTS

from .features import article_features
from .store import Assignment, EventStore

DORMANCY_SWEEP_SECONDS = 60.0
log = logging.getLogger(__name__)


def build_stage() -> Stage:
    stage = Stage("events")
    settings = stage.settings
    store = EventStore(stage.redis, stage.keys, settings.event_threshold)

    async def publish(article: dict[str, Any], delivery: Delivery, assignment: Assignment) -> None:
        """Send the article's event updates and count them; its outcome is the caller's to mark."""
        # Sent again on a redelivery too: updates are keyed by event id and carry the same version.
        for event_id, update in assignment.updates:
            await stage.send(EVENT_UPDATES, event_id, update)
        if assignment.repeated:
            DOCUMENTS.labels("events", "repeated").inc()
            return
        for event_id, update in assignment.updates:
            EVENTS_CHANGED.labels(update["status"]).inc()
            log.info("article %s -> event %s (%s, version %d)", article["article_id"], event_id, update["status"],
                     update["version"], extra=stage.log_context(delivery, article["doc_id"],
                                                                article_id=article["article_id"], event_id=event_id))
        DOCUMENTS.labels("events", "assigned").inc()
        observe_latency(article)

    async def handle(article: dict[str, Any], delivery: Delivery) -> None:
        assignment = await store.assign(article, article_features(article))
        await publish(article, delivery, assignment)
        await stage.mark_outcome(article["doc_id"], outcome_value(OUTCOME_EVENT, assignment.event_id))

    async def handle_batch(batch: list[tuple[dict[str, Any], Delivery]]) -> None:
        # One transaction for the whole batch; each article is decided as if alone, in order.
        assignments = await store.assign_batch([(article, article_features(article)) for article, _ in batch])
        outcomes = {}
        for (article, delivery), assignment in zip(batch, assignments, strict=True):
            await publish(article, delivery, assignment)
            outcomes[article["doc_id"]] = outcome_value(OUTCOME_EVENT, assignment.event_id)
        # After every update is sent: an outcome tells `marsad replay` the article went all the way.
        await stage.mark_outcomes(outcomes)

    @stage.app.timer(interval=DORMANCY_SWEEP_SECONDS)
    async def retire_dormant() -> None:
        for event_id, update in await store.retire_dormant(settings.event_dormant_hours * 3600):
            await stage.send(EVENT_UPDATES, event_id, update)
            EVENTS_CHANGED.labels("dormant").inc()
        EVENTS_ACTIVE.set(await store.active_count())

    @stage.app.timer(interval=settings.trends_interval)
    async def publish_trends() -> None:
        # One snapshot per interval however many events workers run: the first to claim it sends it.
        slot = int(time.time() // settings.trends_interval)
        if not await stage.redis.set(stage.keys("tr", "lock", str(slot)), "1", nx=True,
                                     ex=int(settings.trends_interval * 2)):
            return
        snapshot = await store.trend_snapshot()
        if snapshot is not None:
            await stage.send(TREND_SNAPSHOTS, snapshot["snapshot_id"], snapshot)
            TRENDING_ENTITIES.set(len(snapshot["entities"]))
            for window, total in store.window_totals.items():
                TREND_WINDOW_MENTIONS.labels(window).set(total)

    stage.consume_batches(ENRICHED_ARTICLES, handle_batch, handle, settings.event_batch, settings.event_batch_wait)
    return stage


def observe_latency(article: dict[str, Any]) -> None:
    now = time.time()
    received = to_epoch(article["received_at"]) or now
    published = to_epoch(article.get("published_at"))
    # A publish time in the future, or days before the document arrived (a replay of old news),
    # says nothing about our speed: fall back to when Marsad received it.
    origin = published if published and received - 86400 <= published <= now else received
    END_TO_END_SECONDS.observe(max(now - origin, 0.0))
    PIPELINE_SECONDS.observe(max(now - received, 0.0))
