"""Topic names and the schema each topic's messages follow."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TopicSpec:
    name: str  # without prefix
    schema: str  # file name under schemas/
    compacted: bool = False
    description: str = ""


RAW_DOCUMENTS = TopicSpec("raw-documents", "raw-document.schema.json",
                          description="Fetched pages, feed items and replayed files, before cleaning.")
CLEAN_ARTICLES = TopicSpec("articles-clean", "clean-article.schema.json",
                           description="Clean Arabic articles ready for entity extraction.")
OTHER_LANGUAGE = TopicSpec("articles-other-language", "clean-article.schema.json",
                           description="Clean articles that are not Arabic; not processed further.")
ENRICHED_ARTICLES = TopicSpec("articles-enriched", "enriched-article.schema.json",
                              description="Clean articles with canonical named entities.")
EVENT_UPDATES = TopicSpec("events", "event-update.schema.json", compacted=True,
                          description="Latest state of each event, keyed by event id (log-compacted).")
TREND_SNAPSHOTS = TopicSpec("trends", "trend-snapshot.schema.json",
                            description="Periodic snapshots of rising entities.")
DEAD_LETTERS = TopicSpec("dead-letters", "dead-letter.schema.json",
                         description="Messages that failed decoding, validation or processing, with the reason.")

ALL_TOPICS: tuple[TopicSpec, ...] = (
    RAW_DOCUMENTS, CLEAN_ARTICLES, OTHER_LANGUAGE, ENRICHED_ARTICLES, EVENT_UPDATES, TREND_SNAPSHOTS, DEAD_LETTERS,
)


def topic_name(prefix: str, spec: TopicSpec) -> str:
    return f"{prefix}{spec.name}"


def consumer_group(prefix: str, stage: str) -> str:
    """A stage's consumer group, which is also its faust app id: the topic prefix without its trailing
    separator, then the stage (``marsad.`` gives ``marsad-ingest``, ``staging.marsad.`` gives
    ``staging.marsad-ingest``), so deployments sharing a cluster with different prefixes never share
    a group. faust names its leader topic after it too (``<group>-__assignor-__leader``)."""
    return f"{prefix.rstrip('.-_') or 'marsad'}-{stage}"


def spec_for(prefix: str, full_name: str) -> TopicSpec:
    for spec in ALL_TOPICS:
        if topic_name(prefix, spec) == full_name:
            return spec
    raise KeyError(f"unknown topic {full_name!r} (prefix {prefix!r})")
