"""Prometheus metrics of every worker, in one place so names and label sets stay bounded.

Labels are stages, topics, partitions, error classes and configured feeds — never an article,
URL or entity, so the number of series stays fixed however much news flows through.
"""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

from prometheus_client import Counter, Gauge, Histogram, Info

from services import __version__

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600, 21600, 86400)
_STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

MESSAGES_CONSUMED = Counter("marsad_messages_consumed_total", "Messages read from a topic.", ["stage", "topic"])
MESSAGES_PRODUCED = Counter("marsad_messages_produced_total", "Messages written to a topic.", ["stage", "topic"])
DEAD_LETTERS = Counter("marsad_dead_letters_total", "Messages sent to the dead-letter topic.",
                       ["stage", "topic", "error_class"])
DOCUMENTS = Counter("marsad_documents_total", "Documents by stage and outcome.", ["stage", "outcome"])
DECODED = Counter("marsad_ingest_decoded_total",
                  "Documents that came as bytes, by what chose their charset: bom, declared (the charset the "
                  "document came with), meta (the page's <meta>, when that was wrong or missing), utf-8 (no "
                  "fitting declaration, valid UTF-8) or detected (guessed from the bytes).", ["evidence"])
RETRIES = Counter("marsad_transient_retries_total", "Processing attempts retried after a transient failure.",
                  ["stage", "reason"])
PROCESSING_SECONDS = Histogram("marsad_processing_seconds", "Time to process one message, by stage.",
                               ["stage"], buckets=_STAGE_BUCKETS)
END_TO_END_SECONDS = Histogram(
    "marsad_end_to_end_latency_seconds",
    "From a document's publish (or, when unknown or later, receive) time to its event update.",
    buckets=_LATENCY_BUCKETS)
PIPELINE_SECONDS = Histogram("marsad_pipeline_latency_seconds",
                             "From a document entering Marsad to its event update.", buckets=_LATENCY_BUCKETS)
CONSUMER_LAG = Gauge("marsad_consumer_lag_messages", "High-watermark minus position, per assigned partition.",
                     ["stage", "topic", "partition"])
NER_TOKENS = Counter("marsad_ner_tokens_total", "Tokens run through named-entity recognition.", ["backend"])
ENTITIES = Counter("marsad_entities_total", "Canonical entities attached to articles.", ["type"])
EVENTS_ACTIVE = Gauge("marsad_events_active", "Events in hot state (not dormant, not merged).")
TREND_WINDOW_MENTIONS = Gauge("marsad_trend_window_mentions", "Entity mentions inside each trend window.",
                              ["window"])
TRENDING_ENTITIES = Gauge("marsad_trending_entities", "Entities in the latest trend snapshot.")
EVENTS_CHANGED = Counter("marsad_events_total", "Event state changes by kind.", ["status"])
REDIS_SECONDS = Histogram("marsad_redis_operation_seconds", "Round-trip time of Redis operations.",
                          ["stage", "operation"], buckets=_STAGE_BUCKETS)
REDIS_ERRORS = Counter("marsad_redis_errors_total", "Redis operations that failed.", ["stage", "operation"])
WORKER_UP = Gauge("marsad_worker_ready", "1 when the worker is connected to Kafka and Redis and assigned.",
                  ["stage"])
BUILD_INFO = Info("marsad_build", "Version and git revision of the running code.")


@cache
def git_revision() -> str:
    root = Path(__file__).resolve().parents[2]
    try:
        result = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip() or "unknown"


def publish_build_info(stage: str) -> None:
    BUILD_INFO.info({"version": __version__, "revision": git_revision(), "stage": stage})
